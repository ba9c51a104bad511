// Turning command-line arguments into steer query text.
import { parse } from '@steer/grammar';
import type { ParseResult } from '@steer/grammar';
import { UsageError } from './command.js';

/** Quotes `text` as a steer text term. */
export function quoteText(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The steer query of a command-line argument followed by `--edit` flags, with its parse: the engine compiles that
 * parse as it is, so a query is parsed once on its way from the command line. An argument that parses as a steer
 * query is used as it is; one without any double quote that does not parse is taken as plain text (so `steer
 * search university focus` works); `plainText` forces the latter.
 */
export function toSteerQuery(
  argument: string,
  edits: readonly string[],
  options: { plainText?: boolean } = {},
): { text: string; parsed: ParseResult } {
  if (argument.trim() === '')
    throw new UsageError('the query is empty; give some text, e.g. steer search "jobs"');
  const editText = editsToQuery(edits);
  let base = quoteText(argument);
  if (!options.plainText) {
    const parsed = parse(argument);
    if (parsed.errors.length === 0 && editText === '') return { text: argument, parsed };
    if (parsed.errors.length === 0 || argument.includes('"')) base = argument;
  }
  const text = base + editText;
  return { text, parsed: parse(text) };
}

/**
 * Translates `--edit` flags into query-language edits: `f12=+0.5` amplifies (`+f12*0.5`), `f12=-0.2`
 * subtracts (`-f12*0.2`), `f12=0.3` sets (`=f12*0.3`), `f12=off` zeroes (`-f12`).
 */
export function editsToQuery(edits: readonly string[]): string {
  return edits
    .map((edit) => {
      const match = /^f(\d+)=(?:(off)|([+-]?)(\d+(?:\.\d+)?(?:e[+-]?\d+)?))$/i.exec(edit.trim());
      if (!match) {
        throw new UsageError(
          `--edit '${edit}' is not of the form f<id>=+<w> (amplify), f<id>=-<w> (subtract), f<id>=<w> (set) or f<id>=off`,
        );
      }
      const [, id, off, sign, value] = match;
      if (off) return ` -f${id}`;
      if (sign === '+') return ` +f${id}*${value}`;
      if (sign === '-') return ` -f${id}*${value}`;
      return ` =f${id}*${value}`;
    })
    .join('');
}
