// JSON Lines reading, the one home of the BEIR corpus layout (`{"_id", "title", "text", "metadata"}` a line): the
// CLI's corpora, the evaluation datasets and the experiments' labelled corpora all read through it.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** One non-blank line of a JSONL file: its parsed value and its 1-based line number. */
export interface JsonlLine {
  value: Record<string, unknown>;
  line: number;
}

function parseLine(text: string, line: number, notJson: (line: number) => Error): JsonlLine {
  try {
    return { value: JSON.parse(text) as Record<string, unknown>, line };
  } catch {
    throw notJson(line);
  }
}

/**
 * The non-blank lines of JSONL `text`, parsed one at a time as they are pulled (so a caller's own check of line 2
 * fails before line 5 is parsed). @throws `notJson(line)` for a line that is not JSON (the caller names the file
 * and the fix).
 */
export function* parseJsonl(text: string, notJson: (line: number) => Error): Generator<JsonlLine> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '') yield parseLine(lines[i]!, i + 1, notJson);
  }
}

/**
 * Streams the non-blank lines of the JSONL file at `path`, parsed, without holding the file in memory.
 * @throws `notJson(line)` for a line that is not JSON, and the file system's error when the file cannot be read.
 */
export async function* readJsonl(path: string, notJson: (line: number) => Error): AsyncGenerator<JsonlLine> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() !== '') yield parseLine(text, line, notJson);
  }
}

/** The id of a BEIR line: `_id`, or `id`, as a string when it is a string or a number; else undefined. */
export function beirId(value: Record<string, unknown>): string | undefined {
  const id = value._id ?? value.id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}
