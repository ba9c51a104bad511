// Builds the training groups of the KL loss (Eq. 2): each query with its M candidate documents, which are its
// judged relevant documents when qrels are given (topped up with nearest neighbours) or else its M nearest
// documents under the original embedding. Documents can stand in as pseudo-queries when queries are few.
import { TrainError } from '../errors.js';
import type { Rng } from '../rng.js';
import {
  mineNeighbours,
  type NeighbourMethod,
  type NeighbourResult,
  type NeighbourStage,
} from './neighbours.js';
import type { VectorSource } from './source.js';

/** Fewer real queries than this and `pseudoQueries: 'auto'` adds every document as a pseudo-query. */
export const PSEUDO_QUERY_THRESHOLD = 10_000;

/** Training rows: documents first, then queries, read as one [nDocs + nQueries, dModel] source. */
export interface TrainingRows {
  /** all: rows 0..nDocs-1 are `docs`, then the queries. */
  all: VectorSource;
  docs: VectorSource;
  queries: VectorSource | null;
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
  /** How the nearest documents were found (absent when no neighbour search ran). */
  search?: Omit<NeighbourResult, 'neighbours'>[];
}

/** Options of {@link buildGroups}. */
export interface GroupOptions {
  neighbours: number;
  pseudoQueries: 'auto' | 'on' | 'off';
  /** relevant[q]: document indices judged relevant to query q (grade > 0). */
  relevant?: readonly (readonly number[])[];
  rng: Rng;
  /** Nearest-neighbour search: exact, IVF, or auto by corpus size; IVF's recall target and seed. */
  search?: { method?: NeighbourMethod; recallTarget?: number; seed?: number; threads?: number };
  /** Progress of the neighbour search, by stage (see NeighbourStage). */
  onProgress?: (done: number, total: number, stage: NeighbourStage) => void;
}

/** Whether documents serve as pseudo-queries under `pseudoQueries` with `nQueries` real queries and M neighbours. */
export function usesPseudoQueries(
  neighbours: number,
  pseudoQueries: 'auto' | 'on' | 'off',
  nQueries: number,
): boolean {
  if (neighbours === 0) return false;
  return pseudoQueries === 'on' || (pseudoQueries === 'auto' && nQueries < PSEUDO_QUERY_THRESHOLD);
}

/**
 * Forms the groups. With `neighbours` 0 every row (document or query) is its own group and there is no KL term.
 * @throws TrainError `bad_config` when there are too few documents for `neighbours`, `bad_input` when there is nothing
 * to train on.
 */
export async function buildGroups(rows: TrainingRows, options: GroupOptions): Promise<Groups> {
  const { nDocs, nQueries } = rows;
  const M = options.neighbours;
  if (M === 0) {
    const all = Int32Array.from({ length: nDocs + nQueries }, (_, r) => r);
    return { queryRow: all, docRows: new Int32Array(0), neighbours: 0, pseudoQueries: false };
  }
  const pseudo = usesPseudoQueries(M, options.pseudoQueries, nQueries);
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
  const total = nQueries + (pseudo ? nDocs : 0);
  const search: Omit<NeighbourResult, 'neighbours'>[] = [];
  const mine = async (queries: VectorSource, m: number, excludeSelf: boolean): Promise<Int32Array> => {
    const found = await mineNeighbours(queries, rows.docs, {
      m,
      excludeSelf,
      ...options.search,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const { neighbours, ...how } = found;
    search.push(how);
    return neighbours;
  };
  const queryRow = new Int32Array(total);
  const docRows = new Int32Array(total * M);
  if (nQueries > 0 && rows.queries) {
    // Extra candidates so that judged documents can be skipped without running short.
    const extra = options.relevant ? M : 0;
    const width = Math.min(nDocs, M + extra);
    const near = await mine(rows.queries, width, false);
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
  }
  if (pseudo) {
    const near = await mine(rows.docs, M, true);
    queryRow.set(
      Int32Array.from({ length: nDocs }, (_, r) => r),
      nQueries,
    );
    docRows.set(near, nQueries * M);
  }
  return { queryRow, docRows, neighbours: M, pseudoQueries: pseudo, search };
}

/**
 * Reads the rows of groups `order[start .. start+count-1]` into a batch laid out queries first, then documents.
 * @returns x // [count * (1 + M), dModel]
 */
export function assembleBatch(
  rows: TrainingRows,
  groups: Groups,
  order: Int32Array,
  start: number,
  count: number,
): Float32Array {
  const M = groups.neighbours;
  const which = new Int32Array(count * (1 + M));
  for (let b = 0; b < count; b++) {
    const g = order[start + b]!;
    which[b] = groups.queryRow[g]!;
    which.set(groups.docRows.subarray(g * M, g * M + M), count + b * M);
  }
  const x = new Float32Array(which.length * rows.dModel);
  rows.all.readRows(which, x);
  return x;
}
