// Per-feature activation statistics over a corpus, from the SAE's sparse codes: frequency, mean, p99,
// typical activation (median when active) and the top activating documents.

/** Sparse SAE codes of `batch` vectors: `k` (feature, activation) pairs per vector, strongest first. */
export interface SparseCodes {
  indices: Int32Array; // [batch, k]
  values: Float32Array; // [batch, k]
  batch: number;
  k: number;
}

/** Column-wise statistics of all `nLatents` features (dead features have count 0 and zero stats). */
export interface FeatureStats {
  nLatents: number;
  documents: number;
  /** Number of documents where the feature is active (activation > 0). [nLatents] */
  count: Uint32Array;
  /** count / documents. [nLatents] */
  frequency: Float32Array;
  /** Mean activation over the documents where the feature is active. [nLatents] */
  meanActivation: Float32Array;
  /** 99th percentile of the activation over the documents where the feature is active. [nLatents] */
  p99Activation: Float32Array;
  /** Median activation when active: the unit of relative steering strength. [nLatents] */
  typicalActivation: Float32Array;
}

/** One of a feature's top documents: the document's index in the corpus and the activation there. */
export interface TopDocument {
  doc: number;
  activation: number;
}

/** Result of {@link computeFeatureStats}. */
export interface StatsResult {
  stats: FeatureStats;
  /** Top `topN` documents of each active feature, strongest first; absent for dead features. */
  topDocuments: Map<number, TopDocument[]>;
}

function quantileSorted(ascending: Float32Array, q: number): number {
  if (ascending.length === 0) return 0;
  const pos = (ascending.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return ascending[lo]! + (ascending[hi]! - ascending[lo]!) * (pos - lo);
}

/**
 * Aggregates sparse codes (one row per document) into per-feature statistics and top-`topN` document lists.
 * Memory is O(batch * k). Throws RangeError when a feature index is outside [0, nLatents).
 */
export function computeFeatureStats(codes: SparseCodes, nLatents: number, topN: number): StatsResult {
  const { indices, values, batch, k } = codes;
  const count = new Uint32Array(nLatents);
  for (let i = 0; i < batch * k; i++) {
    if (values[i]! <= 0) continue;
    const feature = indices[i]!;
    if (feature < 0 || feature >= nLatents) {
      throw new RangeError(`catalog: feature index ${feature} is outside the SAE's ${nLatents} latents`);
    }
    count[feature]!++;
  }
  // CSR layout: the active (document, activation) pairs of feature f are at offsets[f] .. offsets[f + 1].
  const offsets = new Uint32Array(nLatents + 1);
  for (let f = 0; f < nLatents; f++) offsets[f + 1] = offsets[f]! + count[f]!;
  const fill = offsets.slice(0, nLatents);
  const docOf = new Uint32Array(offsets[nLatents]!);
  const activationOf = new Float32Array(offsets[nLatents]!);
  for (let doc = 0; doc < batch; doc++) {
    for (let j = 0; j < k; j++) {
      const value = values[doc * k + j]!;
      if (value <= 0) continue;
      const slot = fill[indices[doc * k + j]!]!++;
      docOf[slot] = doc;
      activationOf[slot] = value;
    }
  }
  const frequency = new Float32Array(nLatents);
  const meanActivation = new Float32Array(nLatents);
  const p99Activation = new Float32Array(nLatents);
  const typicalActivation = new Float32Array(nLatents);
  const topDocuments = new Map<number, TopDocument[]>();
  for (let f = 0; f < nLatents; f++) {
    const n = count[f]!;
    if (n === 0) continue;
    const start = offsets[f]!;
    const slice = activationOf.subarray(start, start + n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += slice[i]!;
    const ascending = Float32Array.from(slice).sort();
    frequency[f] = n / batch;
    meanActivation[f] = sum / n;
    p99Activation[f] = quantileSorted(ascending, 0.99);
    typicalActivation[f] = quantileSorted(ascending, 0.5);
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => slice[b]! - slice[a]! || docOf[start + a]! - docOf[start + b]!,
    );
    topDocuments.set(
      f,
      order.slice(0, topN).map((i) => ({ doc: docOf[start + i]!, activation: slice[i]! })),
    );
  }
  return {
    stats: { nLatents, documents: batch, count, frequency, meanActivation, p99Activation, typicalActivation },
    topDocuments,
  };
}
