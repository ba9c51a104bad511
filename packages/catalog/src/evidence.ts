// Token-level evidence in the spirit of Neuron to Graph (Foote et al. 2023): which words of a top document
// drive a feature, found with the real embedder by encoding growing prefixes and by ablating words.
import type { Embedder } from '@steer/embed';
import type { DocumentEvidence } from './storage.js';
import { ENGLISH_STOPWORDS, type StopWords } from './text.js';

/** Encodes vectors with the SAE: the slice of SaeRuntime that evidence needs. */
export interface SparseEncoder {
  encode(
    x: Float32Array,
    batch: number,
  ): Promise<{ indices: Int32Array; values: Float32Array; batch: number; k: number }>;
}

/** Bounds of the evidence search (a document costs at most `prefixSteps + ablateWords + refineWords` embeddings). */
export interface EvidenceOptions {
  /** Prefix lengths tried per document (default 8). */
  prefixSteps?: number;
  /** Distinct content words ablated per document (default 24). */
  ablateWords?: number;
  /** Words of the document considered (default 96). */
  maxWords?: number;
  /** Word-by-word prefixes embedded to pinpoint the trigger inside its prefix step (default 12). */
  refineWords?: number;
  /** Ablations reported (default 5). */
  report?: number;
}

const WORD_SPAN = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

function activationOf(
  codes: { indices: Int32Array; values: Float32Array; k: number },
  row: number,
  feature: number,
): number {
  for (let j = 0; j < codes.k; j++)
    if (codes.indices[row * codes.k + j] === feature) return Math.max(0, codes.values[row * codes.k + j]!);
  return 0;
}

/**
 * Finds the evidence for `feature` in one document text: the activation on `prefixSteps` growing prefixes
 * (the trigger is the word ending the shortest prefix with half the full activation, found word by word inside
 * the step where that happens) and the activation drop
 * when each of up to `ablateWords` distinct content words is removed (all its occurrences).
 */
export async function documentEvidence(
  embedder: Embedder,
  sae: SparseEncoder,
  feature: number,
  text: string,
  doc: number,
  options: EvidenceOptions = {},
  stopWords: StopWords = ENGLISH_STOPWORDS,
): Promise<DocumentEvidence> {
  const prefixSteps = options.prefixSteps ?? 8;
  const ablateWords = options.ablateWords ?? 24;
  const maxWords = options.maxWords ?? 96;
  const spans = [...text.matchAll(WORD_SPAN)]
    .slice(0, maxWords)
    .map((m) => ({ word: m[0], start: m.index!, end: m.index! + m[0].length }));
  const body = spans.length > 0 ? text.slice(0, spans[spans.length - 1]!.end) : text;
  const lengths = [
    ...new Set(
      Array.from({ length: prefixSteps }, (_, s) =>
        Math.max(1, Math.ceil((spans.length * (s + 1)) / prefixSteps)),
      ),
    ),
  ].filter((n) => n <= spans.length);
  const candidates = [
    ...new Set(spans.map((s) => s.word.toLowerCase()).filter((w) => stopWords.isContentWord(w))),
  ].slice(0, ablateWords);
  const ablated = candidates.map(
    (word) =>
      body
        .replace(
          new RegExp(
            `(?<![\\p{L}\\p{N}])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`,
            'giu',
          ),
          ' ',
        )
        .replace(/\s+/g, ' ')
        .trim() || '.',
  );
  const texts = [body || '.', ...lengths.map((n) => text.slice(0, spans[n - 1]!.end)), ...ablated];
  const vectors = await embedder.embed(texts, { kind: 'document' });
  const codes = await sae.encode(vectors, texts.length);
  const full = activationOf(codes, 0, feature);
  const prefixes = lengths.map((n, i) => ({ words: n, activation: activationOf(codes, 1 + i, feature) }));
  let half = prefixes.find((p) => full > 0 && p.activation >= full / 2);
  if (half) {
    // Pinpoint the trigger inside the step where half the activation was first reached: every prefix ending in
    // that step (at most `refineWords` of them, the last ones) is embedded in a second batch.
    const index = prefixes.indexOf(half);
    const from = index > 0 ? prefixes[index - 1]!.words + 1 : 1;
    const inner: number[] = [];
    for (let n = Math.max(from, half.words - (options.refineWords ?? 12) + 1); n < half.words; n++)
      inner.push(n);
    if (inner.length > 0) {
      const innerVectors = await embedder.embed(
        inner.map((n) => text.slice(0, spans[n - 1]!.end)),
        { kind: 'document' },
      );
      const innerCodes = await sae.encode(innerVectors, inner.length);
      const first = inner.findIndex((_, i) => activationOf(innerCodes, i, feature) >= full / 2);
      if (first >= 0) {
        const refined = { words: inner[first]!, activation: activationOf(innerCodes, first, feature) };
        prefixes.splice(index, 0, refined);
        half = refined;
      }
    }
  }
  const ablations = candidates
    .map((word, i) => ({ word, drop: full - activationOf(codes, 1 + lengths.length + i, feature) }))
    .filter((a) => a.drop > 0)
    .sort((a, b) => b.drop - a.drop || (a.word < b.word ? -1 : 1))
    .slice(0, options.report ?? 5);
  return {
    doc,
    activation: full,
    prefixes,
    ...(half ? { trigger: spans[half.words - 1]!.word } : {}),
    ablations,
  };
}
