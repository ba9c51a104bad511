// Builds the training groups of the KL loss (Eq. 2): each query with its M candidate documents, which are its
// judged relevant documents when qrels are given (topped up with nearest neighbours) or else its M nearest
// documents under the original embedding. Documents can stand in as pseudo-queries when queries are few.
import { nearestNeighbours } from '../backend/index.js';
import { TrainError } from '../errors.js';
import type { Rng } from '../rng.js';

/** Fewer real queries than this and `pseudoQueries: 'auto'` adds every document as a pseudo-query. */
export const PSEUDO_QUERY_THRESHOLD = 10_000;

/** Training rows: documents first, then queries, in one [rows, dModel] matrix. */
export interface TrainingRows {
  data: Float32Array; // [nDocs + nQueries, dModel]
  dModel: number;
  nDocs: number;
  nQueries: number;
}

/** Groups of the KL loss: group g is row queryRow[g] with rows docRows[g*M .. g*M+M-1]. */
export interface Groups {
  queryRow: Int32Array; // [groups]
  docRows: Int32Array; // [groups * neighbours]
  neighbours: number;
  /** True when documents were added as pseudo-queries. */
  pseudoQueries: boolean;
}

/** Options of {@link buildGroups}. */
export interface GroupOptions {
  neighbours: number;
  pseudoQueries: 'auto' | 'on' | 'off';
  /** relevant[q]: document indices judged relevant to query q (grade > 0). */
  relevant?: readonly (readonly number[])[];
  rng: Rng;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Forms the groups. With `neighbours` 0 every row (document or query) is its own group and there is no KL term.
 * @throws TrainError `bad_config` when there are too few documents for `neighbours`, `bad_input` when there is nothing
 * to train on.
 */
export async function buildGroups(rows: TrainingRows, options: GroupOptions): Promise<Groups> {
  const { nDocs, nQueries, dModel } = rows;
  const M = options.neighbours;
  if (M === 0) {
    const all = Int32Array.from({ length: nDocs + nQueries }, (_, r) => r);
    return { queryRow: all, docRows: new Int32Array(0), neighbours: 0, pseudoQueries: false };
  }
  const pseudo =
    options.pseudoQueries === 'on' || (options.pseudoQueries === 'auto' && nQueries < PSEUDO_QUERY_THRESHOLD);
  if (!pseudo && nQueries === 0) {
    throw new TrainError(
      'bad_input',
      'train: --pseudo-queries off needs query vectors (--queries); give queries or allow documents as pseudo-queries',
    );
  }
  if (nDocs < M + (pseudo ? 1 : 0)) {
    throw new TrainError(
      'bad_config',
      `train: --neighbours ${M} needs at least ${M + (pseudo ? 1 : 0)} documents but there are ${nDocs}; lower --neighbours`,
    );
  }
  const docs = rows.data.subarray(0, nDocs * dModel);
  const total = nQueries + (pseudo ? nDocs : 0);
  const queryRow = new Int32Array(total);
  const docRows = new Int32Array(total * M);
  let done = 0;
  const progress = (n: number): void => options.onProgress?.(done + n, total);
  if (nQueries > 0) {
    const queries = rows.data.subarray(nDocs * dModel);
    // Extra candidates so that judged documents can be skipped without running short.
    const extra = options.relevant ? M : 0;
    const width = Math.min(nDocs, M + extra);
    const near = await nearestNeighbours(queries, docs, dModel, width, {
      excludeSelf: false,
      onProgress: progress,
    });
    for (let q = 0; q < nQueries; q++) {
      queryRow[q] = nDocs + q;
      const chosen: number[] = [];
      const judged = options.relevant?.[q] ?? [];
      if (judged.length > 0) chosen.push(...options.rng.shuffle([...new Set(judged)]).slice(0, M));
      for (let j = 0; j < width && chosen.length < M; j++) {
        const doc = near[q * width + j]!;
        if (!chosen.includes(doc)) chosen.push(doc);
      }
      docRows.set(chosen, q * M);
    }
    done = nQueries;
  }
  if (pseudo) {
    const near = await nearestNeighbours(docs, docs, dModel, M, { excludeSelf: true, onProgress: progress });
    queryRow.set(
      Int32Array.from({ length: nDocs }, (_, r) => r),
      nQueries,
    );
    docRows.set(near, nQueries * M);
  }
  return { queryRow, docRows, neighbours: M, pseudoQueries: pseudo };
}

/** Copies the rows of groups `order[start .. start+count-1]` into a batch laid out queries first, then documents. */
export function assembleBatch(
  rows: TrainingRows,
  groups: Groups,
  order: Int32Array,
  start: number,
  count: number,
): Float32Array {
  const { dModel: d } = rows;
  const M = groups.neighbours;
  const x = new Float32Array(count * (1 + M) * d);
  for (let b = 0; b < count; b++) {
    const g = order[start + b]!;
    const q = groups.queryRow[g]!;
    x.set(rows.data.subarray(q * d, q * d + d), b * d);
    for (let j = 0; j < M; j++) {
      const doc = groups.docRows[g * M + j]!;
      x.set(rows.data.subarray(doc * d, doc * d + d), (count + b * M + j) * d);
    }
  }
  return x;
}
