// Neighbour mining for the KL groups: the m nearest documents of every query by dot product. Small corpora get the
// exact answer by blocked brute force; large ones an inverted-file (IVF) search: k-means lists over a sample, each
// document in its nearest list, each query scanning its `probes` nearest lists with exact dot products. The number
// of probes is the smallest that reaches the recall target on a sample of queries whose exact neighbours are
// computed in the same pass, and the recall@m of the final answer on that sample is measured and reported.
import { Rng, deriveSeed } from '../rng.js';
import { createDotTopK, type DotTopK, type TopKBlock } from './dot-top-k.js';
import { kMeans, nearestCentroid, type Centroids } from './kmeans.js';
import { chunkRows, type VectorSource } from './source.js';

/** How neighbours are found: `auto` is exact up to {@link EXACT_PAIR_LIMIT} query-document pairs, IVF above. */
export type NeighbourMethod = 'auto' | 'exact' | 'ivf';

/** Above this many query x document pairs, `auto` switches from exact search to IVF (10^9 pairs: ~15 s at d 768). */
export const EXACT_PAIR_LIMIT = 1e9;

/** Options of {@link mineNeighbours}. */
export interface NeighbourOptions {
  /** Neighbours per query. */
  m: number;
  /** Query i is document i (documents as pseudo-queries): never its own neighbour. */
  excludeSelf: boolean;
  method?: NeighbourMethod;
  /** IVF: the recall@m the number of probes is chosen for, on the sample (default 0.9). */
  recallTarget?: number;
  /** IVF: sampled queries for tuning and measuring recall (default 1,000). */
  sampleQueries?: number;
  /** IVF: number of lists (default round(4 sqrt(documents)), at most documents / 8). */
  lists?: number;
  seed?: number;
  /** CPU threads of the dense kernel (default all). */
  threads?: number;
  /**
   * Progress of each stage: `exact` (query x document pairs), IVF's `k-means` (iterations), `lists` (rows placed in
   * lists or given their probes) and `search` (query x probed-list pairs).
   */
  onProgress?: (done: number, total: number, stage: NeighbourStage) => void;
}

/** The stages of a neighbour search, as reported to `onProgress`. */
export type NeighbourStage = 'exact' | 'k-means' | 'lists' | 'search';

/** What mining found and how. */
export interface NeighbourResult {
  /** neighbours: Int32Array // [queries, m] document rows, nearest first. */
  neighbours: Int32Array;
  method: 'exact' | 'ivf';
  /** Neighbours per query. */
  m: number;
  lists?: number;
  probes?: number;
  /** IVF: recall@m of the answer against exact neighbours on `sample` random queries. */
  recall?: number;
  sample?: number;
  seconds: number;
}

/** The best `m` (score, row) pairs of each query, kept sorted, best first. */
class TopTable {
  readonly scores: Float32Array;
  readonly rows: Int32Array;

  constructor(
    readonly queries: number,
    readonly m: number,
  ) {
    this.scores = new Float32Array(queries * m).fill(Number.NEGATIVE_INFINITY);
    this.rows = new Int32Array(queries * m).fill(-1);
  }

  offer(q: number, score: number, row: number): void {
    const base = q * this.m;
    let i = this.m - 1;
    if (!(score > this.scores[base + i]!)) return;
    while (i > 0 && score > this.scores[base + i - 1]!) {
      this.scores[base + i] = this.scores[base + i - 1]!;
      this.rows[base + i] = this.rows[base + i - 1]!;
      i--;
    }
    this.scores[base + i] = score;
    this.rows[base + i] = row;
  }

  /**
   * Merges a kernel block: block row i goes to slot `slotOf(i)`, block column j is document `rowOf(j)`, and
   * document `selfOf(i)` (the query itself, with documents as pseudo-queries) is skipped.
   */
  merge(
    block: TopKBlock,
    slotOf: (i: number) => number,
    rowOf: (j: number) => number,
    selfOf?: (i: number) => number,
  ): void {
    const n = block.values.length / block.m;
    for (let i = 0; i < n; i++) {
      const slot = slotOf(i);
      const self = selfOf === undefined ? -1 : selfOf(i);
      for (let j = 0; j < block.m; j++) {
        const row = rowOf(block.indices[i * block.m + j]!);
        if (row !== self) this.offer(slot, block.values[i * block.m + j]!, row);
      }
    }
  }

  filled(q: number): number {
    let count = 0;
    while (count < this.m && this.rows[q * this.m + count]! >= 0) count++;
    return count;
  }
}

const SCORE_BLOCK = 16_000_000; // floats of one [queries, documents] score block (64 MB)

/**
 * Finds the `m` nearest documents (dot product) of every row of `queries`.
 * @returns the neighbour table and how it was computed.
 */
export async function mineNeighbours(
  queries: VectorSource,
  docs: VectorSource,
  options: NeighbourOptions,
): Promise<NeighbourResult> {
  const started = performance.now();
  const method =
    options.method === 'exact' || options.method === 'ivf'
      ? options.method
      : queries.rows * docs.rows <= EXACT_PAIR_LIMIT
        ? 'exact'
        : 'ivf';
  const kernel = await createDotTopK(docs.dims, {
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  try {
    if (method === 'exact') {
      const table = new TopTable(queries.rows, options.m);
      await exactSearch(kernel, queries, docs, allRows(queries.rows), table, options);
      return {
        neighbours: table.rows,
        method,
        m: options.m,
        seconds: (performance.now() - started) / 1000,
      };
    }
    return {
      ...(await ivfSearch(kernel, queries, docs, options)),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await kernel.dispose();
  }
}

function allRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** Exact top-m of the listed query rows against every document, in blocks; table row i is query `which[i]`. */
async function exactSearch(
  kernel: DotTopK,
  queries: VectorSource,
  docs: VectorSource,
  which: Int32Array,
  table: TopTable,
  options: NeighbourOptions,
): Promise<void> {
  const d = docs.dims;
  const take = options.m + (options.excludeSelf ? 1 : 0);
  const docBlock = Math.min(docs.rows, chunkRows(d));
  const queryBlock = Math.max(1, Math.min(which.length, Math.floor(SCORE_BLOCK / docBlock), 8192));
  const qBuffer = new Float32Array(queryBlock * d);
  const dBuffer = new Float32Array(docBlock * d);
  const total = which.length * docs.rows;
  for (let qs = 0; qs < which.length; qs += queryBlock) {
    const nq = Math.min(queryBlock, which.length - qs);
    const qv = qBuffer.subarray(0, nq * d);
    queries.readRows(which.subarray(qs, qs + nq), qv);
    for (let ds = 0; ds < docs.rows; ds += docBlock) {
      const nd = Math.min(docBlock, docs.rows - ds);
      const dv = docs.readRange(ds, nd, dBuffer.subarray(0, nd * d));
      const block = await kernel.run(qv, dv, take);
      table.merge(
        block,
        (i) => qs + i,
        (j) => ds + j,
        options.excludeSelf ? (i) => which[qs + i]! : undefined,
      );
      options.onProgress?.(qs * docs.rows + nq * (ds + nd), total, 'exact');
    }
  }
}

/** Rows grouped by list: rows of list c are members[offsets[c] .. offsets[c+1]), ascending. */
interface Lists {
  offsets: Int32Array; // [lists + 1]
  members: Int32Array;
}

function groupByList(listOf: Int32Array, lists: number, perRow = 1): Lists {
  const offsets = new Int32Array(lists + 1);
  for (let i = 0; i < listOf.length; i++) offsets[listOf[i]! + 1]!++;
  for (let c = 0; c < lists; c++) offsets[c + 1]! += offsets[c]!;
  const fill = offsets.slice(0, lists);
  const members = new Int32Array(listOf.length);
  for (let i = 0; i < listOf.length; i++) members[fill[listOf[i]!]!++] = Math.floor(i / perRow);
  return { offsets, members };
}

async function ivfSearch(
  kernel: DotTopK,
  queries: VectorSource,
  docs: VectorSource,
  options: NeighbourOptions,
): Promise<Omit<NeighbourResult, 'seconds'>> {
  const d = docs.dims;
  const m = options.m;
  const seed = options.seed ?? 0;
  const rng = new Rng(deriveSeed(seed, 77));
  const target = options.recallTarget ?? 0.9;

  // 1. k-means lists on a sample of documents.
  const lists = Math.max(
    1,
    Math.min(
      docs.rows,
      options.lists ?? Math.min(Math.round(4 * Math.sqrt(docs.rows)), Math.floor(docs.rows / 8)),
    ),
  );
  const sampleSize = Math.min(docs.rows, Math.max(10_000, 24 * lists));
  const sampleRows = rng.shuffle(allRows(docs.rows)).subarray(0, sampleSize).sort();
  const sample = new Float32Array(sampleSize * d);
  docs.readRows(sampleRows, sample);
  const centroids = await kMeans(kernel, sample, d, lists, rng, 12, (done, total) =>
    options.onProgress?.(done, total, 'k-means'),
  );

  // 2. One pass over the documents: the exact neighbours of the sampled queries.
  const sampled = rng
    .shuffle(allRows(queries.rows))
    .subarray(0, Math.min(queries.rows, options.sampleQueries ?? 1000))
    .sort();
  const sampleVectors = new Float32Array(sampled.length * d);
  queries.readRows(sampled, sampleVectors);
  const exact = new TopTable(sampled.length, m);
  await exactSearch(kernel, queries, docs, sampled, exact, options);

  // 3. The fewest probes that put the recall target of those exact neighbours in the probed lists.
  const truth = Int32Array.from(new Set(exact.rows.filter((row) => row >= 0))).sort();
  const truthVectors = new Float32Array(truth.length * d);
  docs.readRows(truth, truthVectors);
  const truthLists = await nearestCentroid(kernel, truthVectors, d, centroids);
  const listOfTruth = new Map(Array.from(truth, (row, i) => [row, truthLists[i]!]));
  const ranking = await kernel.run(sampleVectors, centroids.data, centroids.lists, centroids.bias);
  const candidates: number[] = [];
  for (let p = 1; p < centroids.lists; p *= 2) candidates.push(p);
  candidates.push(centroids.lists);
  const probes =
    candidates.find((p) => sampleRecall(exact, ranking, listOfTruth, p) >= target) ?? centroids.lists;

  // 4. Each document's list and each query's probed lists; 5. every list against the queries that probe it.
  const { listOf, probeOf } = await placeInLists(kernel, queries, docs, centroids, probes, options);
  const table = await searchLists(kernel, queries, docs, centroids.lists, listOf, probeOf, probes, options);

  // 6. Queries whose probed lists held fewer than m documents get an exact search.
  const short: number[] = [];
  for (let q = 0; q < queries.rows; q++) if (table.filled(q) < m) short.push(q);
  if (short.length > 0) {
    const which = Int32Array.from(short);
    const fallback = new TopTable(which.length, m);
    await exactSearch(kernel, queries, docs, which, fallback, { ...options, onProgress: undefined });
    which.forEach((q, i) => {
      table.scores.set(fallback.scores.subarray(i * m, i * m + m), q * m);
      table.rows.set(fallback.rows.subarray(i * m, i * m + m), q * m);
    });
  }

  // 7. Recall@m of the answer on the sample.
  let hits = 0;
  sampled.forEach((q, i) => {
    const truth = new Set(exact.rows.subarray(i * m, i * m + m));
    for (let j = 0; j < m; j++) if (truth.has(table.rows[q * m + j]!)) hits++;
  });
  return {
    neighbours: table.rows,
    method: 'ivf',
    m,
    lists: centroids.lists,
    probes,
    recall: hits / (sampled.length * m),
    sample: sampled.length,
  };
}

/**
 * Each document's list (its nearest centroid) and each query's `probes` nearest lists, in chunks: one pass when the
 * queries are the documents, whose nearest list is their first probe.
 * @returns listOf // [documents], probeOf // [queries, probes].
 */
async function placeInLists(
  kernel: DotTopK,
  queries: VectorSource,
  docs: VectorSource,
  centroids: Centroids,
  probes: number,
  options: NeighbourOptions,
): Promise<{ listOf: Int32Array; probeOf: Int32Array }> {
  const d = docs.dims;
  const step = chunkRows(d);
  const buffer = new Float32Array(step * d);
  const same = queries === docs;
  const listOf = new Int32Array(docs.rows);
  const probeOf = new Int32Array(queries.rows * probes);
  const placing = docs.rows + (same ? 0 : queries.rows);
  let placed = 0;
  for (let start = 0; start < queries.rows; start += step) {
    const count = Math.min(step, queries.rows - start);
    const chunk = queries.readRange(start, count, buffer.subarray(0, count * d));
    const top = await kernel.run(chunk, centroids.data, probes, centroids.bias);
    probeOf.set(top.indices, start * probes);
    if (same) for (let r = 0; r < count; r++) listOf[start + r] = top.indices[r * probes]!;
    options.onProgress?.((placed += count), placing, 'lists');
  }
  if (!same) {
    for (let start = 0; start < docs.rows; start += step) {
      const count = Math.min(step, docs.rows - start);
      const chunk = docs.readRange(start, count, buffer.subarray(0, count * d));
      await nearestCentroid(kernel, chunk, d, centroids, listOf.subarray(start, start + count));
      options.onProgress?.((placed += count), placing, 'lists');
    }
  }
  return { listOf, probeOf };
}

/** Every list against the queries that probe it, with exact dot products. @returns the top-m table of every query. */
async function searchLists(
  kernel: DotTopK,
  queries: VectorSource,
  docs: VectorSource,
  lists: number,
  listOf: Int32Array,
  probeOf: Int32Array,
  probes: number,
  options: NeighbourOptions,
): Promise<TopTable> {
  const d = docs.dims;
  const m = options.m;
  const take = m + (options.excludeSelf ? 1 : 0);
  const probing = groupByList(probeOf, lists, probes);
  const members = groupByList(listOf, lists);
  let searched = 0;
  const progress = (n: number): void => {
    searched += n;
    options.onProgress?.(searched, probeOf.length, 'search');
  };

  const table = new TopTable(queries.rows, m);
  for (let c = 0; c < lists; c++) {
    const docRows = members.members.subarray(members.offsets[c]!, members.offsets[c + 1]!);
    const queryRows = probing.members.subarray(probing.offsets[c]!, probing.offsets[c + 1]!);
    if (docRows.length === 0 || queryRows.length === 0) {
      progress(queryRows.length);
      continue;
    }
    const docVectors = new Float32Array(docRows.length * d);
    docs.readRows(docRows, docVectors);
    const batch = Math.max(1, Math.min(8192, Math.floor(SCORE_BLOCK / docRows.length)));
    const qVectors = new Float32Array(Math.min(batch, queryRows.length) * d);
    for (let qs = 0; qs < queryRows.length; qs += batch) {
      const nq = Math.min(batch, queryRows.length - qs);
      const rows = queryRows.subarray(qs, qs + nq);
      const qv = qVectors.subarray(0, nq * d);
      queries.readRows(rows, qv);
      const block = await kernel.run(qv, docVectors, take);
      table.merge(
        block,
        (i) => rows[i]!,
        (j) => docRows[j]!,
        options.excludeSelf ? (i) => rows[i]! : undefined,
      );
      progress(nq);
    }
  }
  return table;
}

/** Fraction of the sample's exact neighbours that lie in the query's first `probes` lists. */
function sampleRecall(
  exact: TopTable,
  ranking: TopKBlock,
  listOf: ReadonlyMap<number, number>,
  probes: number,
): number {
  let found = 0;
  let total = 0;
  const probed = new Set<number>();
  for (let i = 0; i < exact.queries; i++) {
    probed.clear();
    for (let p = 0; p < probes; p++) probed.add(ranking.indices[i * ranking.m + p]!);
    for (let j = 0; j < exact.m; j++) {
      const row = exact.rows[i * exact.m + j]!;
      if (row < 0) continue;
      total++;
      if (probed.has(listOf.get(row)!)) found++;
    }
  }
  return total === 0 ? 1 : found / total;
}
