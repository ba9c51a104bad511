// WordPiece tokenizer read from a Hugging Face `tokenizer.json` (BERT family): normalizer, pre-tokenizer,
// greedy longest-match-first WordPiece model, truncation and the special-token template.
import { readFile } from 'node:fs/promises';
import { EmbedError, describeError } from './errors.js';

/** Token ids of one text with its special tokens, ready to feed a BERT-shaped model. */
export interface Encoding {
  ids: number[];
  typeIds: number[];
  tokens: string[];
}

type TextStep = (text: string) => string;
type SplitStep = (words: string[]) => string[];
type TemplatePiece =
  { special: { ids: number[]; tokens: string[] }; typeId: number } | { sequence: true; typeId: number };

const CONTROL = /\p{C}/u;
const WHITESPACE = /\p{White_Space}/u;
const NONSPACING_MARK = /\p{Mn}/gu;
const UNICODE_PUNCTUATION = /\p{P}/u;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;

function isChineseChar(code: number): boolean {
  return (
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x20000 && code <= 0x2a6df) ||
    (code >= 0x2a700 && code <= 0x2b73f) ||
    (code >= 0x2b740 && code <= 0x2b81f) ||
    (code >= 0x2b920 && code <= 0x2ceaf) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0x2f800 && code <= 0x2fa1f)
  );
}

function isBertPunctuation(char: string): boolean {
  return ASCII_PUNCTUATION.test(char) || UNICODE_PUNCTUATION.test(char);
}

/** Drops control characters and U+FFFD, maps every whitespace character to a space (BertNormalizer.clean_text). */
function cleanText(text: string): string {
  let out = '';
  for (const char of text) {
    const isTabOrNewline = char === '\t' || char === '\n' || char === '\r';
    // NOTE: control characters are dropped before whitespace is mapped, as in tokenizers' bert.rs (U+0085 is both).
    if (char === '\0' || char === '\ufffd' || (!isTabOrNewline && CONTROL.test(char))) continue;
    out += isTabOrNewline || WHITESPACE.test(char) ? ' ' : char;
  }
  return out;
}

function padChineseChars(text: string): string {
  let out = '';
  for (const char of text) out += isChineseChar(char.codePointAt(0)!) ? ` ${char} ` : char;
  return out;
}

function stripAccents(text: string): string {
  return text.normalize('NFD').replace(NONSPACING_MARK, '');
}

function splitOnWhitespace(words: string[]): string[] {
  return words.flatMap((word) => word.split(/\p{White_Space}+/u).filter((part) => part.length > 0));
}

function isolatePunctuation(words: string[]): string[] {
  const out: string[] = [];
  for (const word of words) {
    let current = '';
    for (const char of word) {
      if (isBertPunctuation(char)) {
        if (current) out.push(current);
        out.push(char);
        current = '';
      } else {
        current += char;
      }
    }
    if (current) out.push(current);
  }
  return out;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A WordPiece tokenizer configured from `tokenizer.json`; {@link WordPieceTokenizer.encode} never throws on text. */
export class WordPieceTokenizer {
  /** Id used to pad batches (`padding.pad_id`, else the id of `[PAD]`, else 0). */
  readonly padId: number;
  /** `truncation.max_length` of the file, when it sets one. */
  readonly fileMaxLength: number | undefined;
  readonly #vocab: Map<string, number>;
  readonly #unkToken: string;
  readonly #prefix: string;
  readonly #maxCharsPerWord: number;
  readonly #normalizers: TextStep[];
  readonly #preTokenizers: SplitStep[];
  readonly #template: TemplatePiece[];
  readonly #addedTokens: Map<string, number>;
  readonly #addedPattern: RegExp | undefined;

  private constructor(json: Json, source: string) {
    const fail = (problem: string): EmbedError =>
      new EmbedError(
        'invalid_tokenizer',
        `embed: tokenizer ${source}: ${problem}; use the tokenizer.json of a BERT-family (WordPiece) model`,
      );
    const model = json['model'];
    if (!isObject(model) || model['type'] !== 'WordPiece') {
      throw fail(`model type is ${JSON.stringify(isObject(model) ? model['type'] : model)}, not "WordPiece"`);
    }
    const vocab = model['vocab'];
    if (!isObject(vocab)) throw fail('model.vocab is missing');
    this.#vocab = new Map();
    for (const [token, id] of Object.entries(vocab)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        throw fail(`vocab id of "${token}" is not an integer`);
      this.#vocab.set(token, id);
    }
    this.#unkToken = typeof model['unk_token'] === 'string' ? model['unk_token'] : '[UNK]';
    if (!this.#vocab.has(this.#unkToken))
      throw fail(`the unknown token "${this.#unkToken}" is not in the vocabulary`);
    this.#prefix =
      typeof model['continuing_subword_prefix'] === 'string' ? model['continuing_subword_prefix'] : '##';
    this.#maxCharsPerWord =
      typeof model['max_input_chars_per_word'] === 'number' ? model['max_input_chars_per_word'] : 100;
    this.#normalizers = this.#parseNormalizer(json['normalizer'] ?? null, fail);
    this.#preTokenizers = this.#parsePreTokenizer(json['pre_tokenizer'] ?? null, fail);
    this.#template = this.#parsePostProcessor(json['post_processor'] ?? null, fail);
    const padding = json['padding'];
    const padId = isObject(padding) && typeof padding['pad_id'] === 'number' ? padding['pad_id'] : undefined;
    this.padId = padId ?? this.#vocab.get('[PAD]') ?? 0;
    const truncation = json['truncation'];
    this.fileMaxLength =
      isObject(truncation) && typeof truncation['max_length'] === 'number'
        ? truncation['max_length']
        : undefined;
    // NOTE: like Hugging Face tokenizers, added tokens that are not normalized (the special tokens) are matched
    // in the raw text before normalization, so a literal "[SEP]" in a text stays one token.
    this.#addedTokens = new Map();
    const added = Array.isArray(json['added_tokens']) ? json['added_tokens'] : [];
    for (const entry of added) {
      if (isObject(entry) && typeof entry['content'] === 'string' && typeof entry['id'] === 'number') {
        if (entry['normalized'] === false && entry['content'].length > 0)
          this.#addedTokens.set(entry['content'], entry['id']);
      }
    }
    const contents = [...this.#addedTokens.keys()].sort((a, b) => b.length - a.length);
    this.#addedPattern =
      contents.length > 0
        ? new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
        : undefined;
  }

  /**
   * Builds a tokenizer from the parsed JSON of a `tokenizer.json` file.
   * @throws EmbedError `invalid_tokenizer` for a non-WordPiece model or an unsupported normalizer/pre-tokenizer/post-processor.
   */
  static fromJSON(json: unknown, source = 'tokenizer.json'): WordPieceTokenizer {
    if (!isObject(json)) {
      throw new EmbedError(
        'invalid_tokenizer',
        `embed: tokenizer ${source} is not a JSON object; use a Hugging Face tokenizer.json`,
      );
    }
    return new WordPieceTokenizer(json, source);
  }

  /**
   * Reads `tokenizer.json` from disk.
   * @throws EmbedError `file_unreadable` or `invalid_tokenizer`.
   */
  static async load(path: string): Promise<WordPieceTokenizer> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new EmbedError(
        'file_unreadable',
        `embed: cannot read tokenizer ${path} (${describeError(error)}); put the model's tokenizer.json beside model.onnx`,
        { cause: error },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new EmbedError(
        'invalid_tokenizer',
        `embed: tokenizer ${path} is not valid JSON (${describeError(error)}); re-export it`,
        {
          cause: error,
        },
      );
    }
    return WordPieceTokenizer.fromJSON(json, path);
  }

  /** Number of special tokens the template adds around one text. */
  get specialTokenCount(): number {
    return this.#template.reduce((n, piece) => n + ('special' in piece ? piece.special.ids.length : 0), 0);
  }

  /** Id of a vocabulary token, or undefined. */
  tokenId(token: string): number | undefined {
    return this.#vocab.get(token) ?? this.#addedTokens.get(token);
  }

  /** Splits a text into word pieces (no special tokens, no truncation). */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    for (const segment of this.#splitAddedTokens(text)) {
      if (segment.added) {
        tokens.push(segment.text);
        continue;
      }
      let normalized = segment.text;
      for (const step of this.#normalizers) normalized = step(normalized);
      let words = [normalized];
      for (const step of this.#preTokenizers) words = step(words);
      for (const word of words) tokens.push(...this.#wordPieces(word));
    }
    return tokens;
  }

  /**
   * Encodes one text: word pieces truncated so that, with the template's special tokens, at most `maxLength`
   * tokens remain (no truncation when `maxLength` is undefined).
   */
  encode(text: string, maxLength?: number): Encoding {
    let pieces = this.tokenize(text);
    if (maxLength !== undefined) pieces = pieces.slice(0, Math.max(0, maxLength - this.specialTokenCount));
    const encoding: Encoding = { ids: [], typeIds: [], tokens: [] };
    for (const piece of this.#template) {
      if ('special' in piece) {
        encoding.ids.push(...piece.special.ids);
        encoding.tokens.push(...piece.special.tokens);
        for (let i = 0; i < piece.special.ids.length; i++) encoding.typeIds.push(piece.typeId);
      } else {
        for (const token of pieces) {
          encoding.ids.push(this.#vocab.get(token) ?? this.#addedTokens.get(token)!);
          encoding.tokens.push(token);
          encoding.typeIds.push(piece.typeId);
        }
      }
    }
    return encoding;
  }

  #splitAddedTokens(text: string): Array<{ text: string; added: boolean }> {
    if (this.#addedPattern === undefined) return [{ text, added: false }];
    const segments: Array<{ text: string; added: boolean }> = [];
    let last = 0;
    for (const match of text.matchAll(this.#addedPattern)) {
      if (match.index > last) segments.push({ text: text.slice(last, match.index), added: false });
      segments.push({ text: match[0], added: true });
      last = match.index + match[0].length;
    }
    if (last < text.length) segments.push({ text: text.slice(last), added: false });
    return segments;
  }

  /** Greedy longest-match-first split of one word; the whole word becomes the unknown token when a piece is missing. */
  #wordPieces(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.#maxCharsPerWord) return [this.#unkToken];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const candidate = (start > 0 ? this.#prefix : '') + chars.slice(start, end).join('');
        if (this.#vocab.has(candidate)) {
          found = candidate;
          break;
        }
        end--;
      }
      if (found === undefined) return [this.#unkToken];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  #parseNormalizer(spec: unknown, fail: (problem: string) => EmbedError): TextStep[] {
    if (spec === null) return [];
    if (!isObject(spec)) throw fail('normalizer is not an object');
    switch (spec['type']) {
      case 'BertNormalizer': {
        const lowercase = spec['lowercase'] !== false;
        const strip = typeof spec['strip_accents'] === 'boolean' ? spec['strip_accents'] : lowercase;
        const steps: TextStep[] = [];
        if (spec['clean_text'] !== false) steps.push(cleanText);
        if (spec['handle_chinese_chars'] !== false) steps.push(padChineseChars);
        if (strip) steps.push(stripAccents);
        if (lowercase) steps.push((text) => text.toLowerCase());
        return steps;
      }
      case 'Sequence': {
        const list = spec['normalizers'];
        if (!Array.isArray(list)) throw fail('Sequence normalizer has no "normalizers" list');
        return list.flatMap((item) => this.#parseNormalizer(item, fail));
      }
      case 'Lowercase':
        return [(text) => text.toLowerCase()];
      case 'StripAccents':
        return [(text) => text.replace(NONSPACING_MARK, '')];
      case 'NFD':
      case 'NFC':
      case 'NFKD':
      case 'NFKC': {
        const form = spec['type'];
        return [(text) => text.normalize(form)];
      }
      case 'Strip': {
        const left = spec['strip_left'] !== false;
        const right = spec['strip_right'] !== false;
        return [
          (text) => (left && right ? text.trim() : left ? text.trimStart() : right ? text.trimEnd() : text),
        ];
      }
      default:
        throw fail(
          `normalizer type ${JSON.stringify(spec['type'])} is not supported (BertNormalizer, Sequence, Lowercase, StripAccents, NF*, Strip are)`,
        );
    }
  }

  #parsePreTokenizer(spec: unknown, fail: (problem: string) => EmbedError): SplitStep[] {
    if (spec === null) return [];
    if (!isObject(spec)) throw fail('pre_tokenizer is not an object');
    switch (spec['type']) {
      case 'BertPreTokenizer':
        return [splitOnWhitespace, isolatePunctuation];
      case 'WhitespaceSplit':
        return [splitOnWhitespace];
      case 'Whitespace':
        return [(words) => words.flatMap((word) => word.match(/\w+|[^\w\s]+/gu) ?? [])];
      case 'Punctuation':
        if (spec['behavior'] !== undefined && spec['behavior'] !== 'Isolated') {
          throw fail(
            `Punctuation pre-tokenizer behavior ${JSON.stringify(spec['behavior'])} is not supported (Isolated is)`,
          );
        }
        return [isolatePunctuation];
      case 'Sequence': {
        const list = spec['pretokenizers'];
        if (!Array.isArray(list)) throw fail('Sequence pre_tokenizer has no "pretokenizers" list');
        return list.flatMap((item) => this.#parsePreTokenizer(item, fail));
      }
      default:
        throw fail(
          `pre_tokenizer type ${JSON.stringify(spec['type'])} is not supported (BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation, Sequence are)`,
        );
    }
  }

  #parsePostProcessor(spec: unknown, fail: (problem: string) => EmbedError): TemplatePiece[] {
    if (spec === null) return [{ sequence: true, typeId: 0 }];
    if (!isObject(spec)) throw fail('post_processor is not an object');
    const specialFromPair = (pair: unknown, name: string): { ids: number[]; tokens: string[] } => {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'number') {
        throw fail(`post_processor.${name} is not a [token, id] pair`);
      }
      return { ids: [pair[1]], tokens: [pair[0]] };
    };
    switch (spec['type']) {
      case 'BertProcessing':
      case 'RobertaProcessing':
        return [
          { special: specialFromPair(spec['cls'], 'cls'), typeId: 0 },
          { sequence: true, typeId: 0 },
          { special: specialFromPair(spec['sep'], 'sep'), typeId: 0 },
        ];
      case 'TemplateProcessing': {
        const single = spec['single'];
        const specials = isObject(spec['special_tokens']) ? spec['special_tokens'] : {};
        if (!Array.isArray(single)) throw fail('TemplateProcessing has no "single" template');
        return single.map((item): TemplatePiece => {
          if (isObject(item) && isObject(item['Sequence'])) {
            const typeId = item['Sequence']['type_id'];
            return { sequence: true, typeId: typeof typeId === 'number' ? typeId : 0 };
          }
          if (isObject(item) && isObject(item['SpecialToken'])) {
            const id = item['SpecialToken']['id'];
            const typeId = item['SpecialToken']['type_id'];
            const entry = typeof id === 'string' ? specials[id] : undefined;
            let special: { ids: number[]; tokens: string[] } | undefined;
            if (isObject(entry) && Array.isArray(entry['ids']) && Array.isArray(entry['tokens'])) {
              special = { ids: entry['ids'] as number[], tokens: entry['tokens'] as string[] };
            } else if (typeof id === 'string' && this.#vocab.has(id)) {
              special = { ids: [this.#vocab.get(id)!], tokens: [id] };
            }
            if (special === undefined)
              throw fail(`special token ${JSON.stringify(id)} of the template has no id`);
            return { special, typeId: typeof typeId === 'number' ? typeId : 0 };
          }
          throw fail(`template piece ${JSON.stringify(item)} is neither a Sequence nor a SpecialToken`);
        });
      }
      default:
        throw fail(
          `post_processor type ${JSON.stringify(spec['type'])} is not supported (TemplateProcessing, BertProcessing are)`,
        );
    }
  }
}
