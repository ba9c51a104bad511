// Reading corpora: BEIR-style JSONL (`{"_id", "title", "text", "metadata"}`), one document a line.
import { stat } from 'node:fs/promises';
import { beirId, readJsonl } from '@steer/core';
import { UsageError } from './command.js';

export interface CorpusDocument {
  id: string;
  title?: string;
  text: string;
  metadata: Record<string, string | number | boolean | null>;
}

/** Text that is embedded for a document (`title. text`, as BEIR evaluations do): the catalog's definition. */
import { documentText } from '@steer/catalog';
export { documentText };

/**
 * Reads a JSONL corpus. Every line must be an object with `_id` (or `id`) and `text`.
 * Throws UsageError naming the file and line for anything else, and for an empty corpus.
 */
export async function readCorpus(path: string): Promise<CorpusDocument[]> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`corpus: ${path} is not a file; pass a JSONL file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(
      `corpus: cannot read ${path} (${(error as NodeJS.ErrnoException).code}); check the path`,
    );
  }
  const docs: CorpusDocument[] = [];
  const seen = new Set<string>();
  const notJson = (lineNo: number) =>
    new UsageError(`corpus: ${path}:${lineNo} is not valid JSON; each line must be one JSON object`);
  for await (const { value: obj, line: lineNo } of readJsonl(path, notJson)) {
    const docId = beirId(obj);
    if (docId === undefined || typeof obj.text !== 'string') {
      throw new UsageError(`corpus: ${path}:${lineNo} needs a string "_id" (or "id") and a string "text"`);
    }
    if (seen.has(docId))
      throw new UsageError(`corpus: ${path}:${lineNo} repeats the id '${docId}'; ids must be unique`);
    seen.add(docId);
    const metadata =
      typeof obj.metadata === 'object' && obj.metadata !== null
        ? (obj.metadata as CorpusDocument['metadata'])
        : {};
    docs.push({
      id: docId,
      title: typeof obj.title === 'string' ? obj.title : undefined,
      text: obj.text,
      metadata,
    });
  }
  if (docs.length === 0)
    throw new UsageError(`corpus: ${path} holds no documents; add one JSON object per line`);
  return docs;
}
