// Dataset loaders for evaluation: BEIR layout (corpus.jsonl, queries.jsonl, qrels) and Cranfield (SMART layout).
import { beirId, parseJsonl } from '@steer/core';
import { EvalError } from './errors.js';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface EvalDocument {
  id: string;
  title?: string;
  text: string;
}

export interface EvalQuery {
  id: string;
  text: string;
}

/** A retrieval test collection with graded judgments and the threshold that makes a grade "relevant". */
export interface EvalDataset {
  name: string;
  layout: 'beir' | 'cranfield';
  documents: EvalDocument[];
  queries: EvalQuery[];
  /** query id -> (document id -> grade); higher grades are more relevant. */
  qrels: Map<string, Map<string, number>>;
  /** Binary metrics count a document relevant when its grade is at least this. */
  minRelevantGrade: number;
  /** How grades map to relevance, for reports. */
  relevanceNote: string;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new EvalError(
      `dataset: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the --dataset folder`,
      'dataset_unreadable',
    );
  }
}

function parseJsonlWith<T>(
  text: string,
  path: string,
  check: (value: Record<string, unknown>, line: number) => T,
): T[] {
  const notJson = (line: number) =>
    new EvalError(`dataset: ${path}:${line} is not valid JSON`, 'dataset_malformed');
  return Array.from(parseJsonl(text, notJson), ({ value, line }) => check(value, line));
}

function requireId(value: Record<string, unknown>, path: string, line: number): string {
  const id = beirId(value);
  if (id === undefined) throw new EvalError(`dataset: ${path}:${line} has no "_id"`, 'dataset_malformed');
  return id;
}

/**
 * Loads a BEIR-layout folder: `corpus.jsonl`, `queries.jsonl`, and `qrels.tsv` or `qrels/test.tsv`
 * (`query-id <TAB> corpus-id <TAB> grade`, an optional header line). Relevant means grade >= 2 when the
 * qrels use grades above 1 (TREC DL convention), else grade >= 1; `minRelevantGrade` overrides.
 */
export async function loadBeirDataset(
  dir: string,
  options: { minRelevantGrade?: number } = {},
): Promise<EvalDataset> {
  const corpusPath = join(dir, 'corpus.jsonl');
  const queriesPath = join(dir, 'queries.jsonl');
  const qrelsPath = [join(dir, 'qrels.tsv'), join(dir, 'qrels', 'test.tsv')].find((p) => existsSync(p));
  if (!qrelsPath) {
    throw new EvalError(
      `dataset: ${dir} has no qrels.tsv or qrels/test.tsv; add the judgments`,
      'dataset_unreadable',
    );
  }
  const documents = parseJsonlWith(await readText(corpusPath), corpusPath, (v, line) => {
    if (typeof v.text !== 'string')
      throw new EvalError(`dataset: ${corpusPath}:${line} has no "text"`, 'dataset_malformed');
    return {
      id: requireId(v, corpusPath, line),
      title: typeof v.title === 'string' && v.title ? v.title : undefined,
      text: v.text,
    };
  });
  const queries = parseJsonlWith(await readText(queriesPath), queriesPath, (v, line) => {
    if (typeof v.text !== 'string')
      throw new EvalError(`dataset: ${queriesPath}:${line} has no "text"`, 'dataset_malformed');
    return { id: requireId(v, queriesPath, line), text: v.text };
  });
  const qrels = new Map<string, Map<string, number>>();
  (await readText(qrelsPath)).split('\n').forEach((line, i) => {
    const fields = line.trim().split(/\t|\s+/);
    if (fields.length < 3 || fields[0] === '') return;
    if (i === 0 && Number.isNaN(Number(fields[2]))) return; // header: query-id corpus-id score
    const grade = Number(fields[2]);
    if (!Number.isFinite(grade)) {
      throw new EvalError(
        `dataset: ${qrelsPath}:${i + 1} has a grade that is not a number`,
        'dataset_malformed',
      );
    }
    let judged = qrels.get(fields[0]!);
    if (!judged) qrels.set(fields[0]!, (judged = new Map()));
    judged.set(fields[1]!, grade);
  });
  if (documents.length === 0)
    throw new EvalError(`dataset: ${corpusPath} holds no documents`, 'dataset_empty');
  const maxGrade = Math.max(0, ...[...qrels.values()].flatMap((m) => [...m.values()]));
  const minRelevantGrade = options.minRelevantGrade ?? (maxGrade > 1 ? 2 : 1);
  return {
    name: dir.split('/').filter(Boolean).pop() ?? dir,
    layout: 'beir',
    documents,
    queries,
    qrels,
    minRelevantGrade,
    relevanceNote: `relevant = grade >= ${minRelevantGrade}; nDCG@10 gains = grades`,
  };
}

/** Splits a SMART file into records (`.I n` then fields `.T`, `.A`, `.B`, `.W`). */
function smartRecords(text: string): Array<{ id: string; fields: Record<string, string> }> {
  const records: Array<{ id: string; fields: Record<string, string> }> = [];
  let field = '';
  for (const line of text.split('\n')) {
    const marker = /^\.([A-Z])(?:\s+(\S+))?\s*$/.exec(line);
    if (marker?.[1] === 'I') {
      records.push({ id: String(Number(marker[2])), fields: {} });
      field = '';
    } else if (marker) {
      field = marker[1]!;
    } else if (records.length > 0 && field && line.trim() !== '') {
      const fields = records[records.length - 1]!.fields;
      fields[field] = fields[field] ? `${fields[field]} ${line.trim()}` : line.trim();
    }
  }
  return records;
}

/**
 * Loads Cranfield (`cran.all.1400`, `cran.qry`, `cranqrel`). Queries are numbered 1..225 by their position
 * in `cran.qry`, not by their `.I` value (which skips numbers) — that is how `cranqrel` numbers them.
 * Codes: 1 complete answer .. 4 minimum interest, -1 not relevant. Grades are `5 - code` (1 -> 4, 4 -> 1,
 * -1 -> 0); relevant = codes 1..3 (grade >= 2) unless `maxRelevantCode` says otherwise.
 */
export async function loadCranfieldDataset(
  dir: string,
  options: { maxRelevantCode?: number } = {},
): Promise<EvalDataset> {
  const maxRelevantCode = options.maxRelevantCode ?? 3;
  // NOTE: no title: Cranfield's `.W` text already starts with the title.
  const documents = smartRecords(await readText(join(dir, 'cran.all.1400'))).map((r) => ({
    id: r.id,
    text: r.fields.W ?? r.fields.T ?? '',
  }));
  const queries = smartRecords(await readText(join(dir, 'cran.qry'))).map((r, position) => ({
    id: String(position + 1),
    text: (r.fields.W ?? '').replace(/\s*\.$/, ''),
  }));
  const qrels = new Map<string, Map<string, number>>();
  const qrelPath = join(dir, 'cranqrel');
  (await readText(qrelPath)).split('\n').forEach((line, i) => {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0] === '') return;
    const code = Number(fields[2]);
    if (!Number.isInteger(code)) {
      throw new EvalError(
        `dataset: ${qrelPath}:${i + 1} has a code that is not a whole number`,
        'dataset_malformed',
      );
    }
    const grade = code >= 1 && code <= 4 ? 5 - code : 0;
    let judged = qrels.get(fields[0]!);
    if (!judged) qrels.set(fields[0]!, (judged = new Map()));
    judged.set(String(Number(fields[1])), grade);
  });
  if (documents.length === 0)
    throw new EvalError(`dataset: ${dir}/cran.all.1400 holds no documents`, 'dataset_empty');
  return {
    name: 'cranfield',
    layout: 'cranfield',
    documents,
    queries,
    qrels,
    minRelevantGrade: 5 - maxRelevantCode,
    relevanceNote: `relevant = codes 1..${maxRelevantCode}; nDCG@10 gains = 5 - code (code -1 = 0)`,
  };
}

/** Loads a dataset folder of either layout, detected by its files. */
export async function loadDataset(dir: string): Promise<EvalDataset> {
  if (existsSync(join(dir, 'cran.all.1400'))) return loadCranfieldDataset(dir);
  if (existsSync(join(dir, 'corpus.jsonl'))) return loadBeirDataset(dir);
  throw new EvalError(
    `dataset: ${dir} is neither BEIR (corpus.jsonl, queries.jsonl, qrels.tsv) nor Cranfield (cran.all.1400, cran.qry, cranqrel)`,
    'dataset_unreadable',
  );
}
