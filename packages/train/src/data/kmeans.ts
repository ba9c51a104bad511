// k-means (Lloyd) on a sample of rows, the coarse quantiser of the IVF neighbour search: assignments come from the
// Gemm + TopK kernel as argmax(x . c - |c|^2 / 2), which is the nearest centroid by Euclidean distance.
import type { Rng } from '../rng.js';
import type { DotTopK } from './dot-top-k.js';

/** Centroids `[lists, dims]` and the bias `-|c|^2 / 2` that turns a dot product into nearest-centroid order. */
export interface Centroids {
  data: Float32Array; // [lists, dims]
  bias: Float32Array; // [lists]
  lists: number;
}

/** The bias -|c|^2 / 2 of each centroid. */
export function centroidBias(data: Float32Array, lists: number, dims: number): Float32Array {
  const bias = new Float32Array(lists);
  for (let c = 0; c < lists; c++) {
    let norm = 0;
    for (let j = 0; j < dims; j++) norm += data[c * dims + j]! ** 2;
    bias[c] = -norm / 2;
  }
  return bias;
}

/** Index of the nearest centroid of each row of `rows` // [n, dims], in blocks. */
export async function nearestCentroid(
  kernel: DotTopK,
  rows: Float32Array,
  dims: number,
  centroids: Centroids,
  out = new Int32Array(rows.length / dims),
): Promise<Int32Array> {
  const n = rows.length / dims;
  const block = Math.max(1, Math.floor(16_000_000 / Math.max(1, centroids.lists)));
  for (let start = 0; start < n; start += block) {
    const count = Math.min(block, n - start);
    const top = await kernel.run(
      rows.subarray(start * dims, (start + count) * dims),
      centroids.data,
      1,
      centroids.bias,
    );
    out.set(top.indices, start);
  }
  return out;
}

/**
 * Lloyd's k-means of `sample` // [n, dims] into `lists` clusters, seeded with distinct random rows; an emptied
 * cluster is re-seeded with a random row. @returns the centroids after `iterations` rounds.
 */
export async function kMeans(
  kernel: DotTopK,
  sample: Float32Array,
  dims: number,
  lists: number,
  rng: Rng,
  iterations = 12,
  onProgress?: (done: number, total: number) => void,
): Promise<Centroids> {
  const n = sample.length / dims;
  const k = Math.min(lists, n);
  const seeds = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i)).subarray(0, k);
  const data = new Float32Array(k * dims);
  seeds.forEach((row, c) => data.set(sample.subarray(row * dims, row * dims + dims), c * dims));
  const centroids: Centroids = { data, bias: centroidBias(data, k, dims), lists: k };
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * dims);
  const counts = new Int32Array(k);
  for (let iteration = 0; iteration < iterations; iteration++) {
    await nearestCentroid(kernel, sample, dims, centroids, assign);
    sums.fill(0);
    counts.fill(0);
    for (let r = 0; r < n; r++) {
      const c = assign[r]!;
      counts[c]!++;
      const base = c * dims;
      for (let j = 0; j < dims; j++) sums[base + j] += sample[r * dims + j]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        const row = rng.int(n);
        data.set(sample.subarray(row * dims, row * dims + dims), c * dims);
        continue;
      }
      for (let j = 0; j < dims; j++) data[c * dims + j] = sums[c * dims + j]! / counts[c]!;
    }
    centroids.bias = centroidBias(data, k, dims);
    onProgress?.(iteration + 1, iterations);
  }
  return centroids;
}
