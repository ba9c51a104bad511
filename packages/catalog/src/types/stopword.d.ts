// Types for the `stopword` package (it ships none): one list of stop words per ISO 639-3 code, plus helpers.
declare module 'stopword' {
  const lists: Record<string, unknown>;
  export default lists;
}
