// Test fixtures: a deterministic bag-of-words embedder, a synthetic topical corpus, and tiny SAEs whose
// features are planted along topic directions (a test construction, not a trained SAE).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '@steer/core';
import { normalize, plantedWeights as plantWeights } from '@steer/test-support';
import type { Embedder } from '@steer/embed';
import { writeSae, type SaeWeights } from '@steer/sae';
import type { CorpusDocument } from '../../src/index.js';

/** mulberry32 uniform numbers in [0, 1). */
export function seeded(seed: number): () => number {
  return mulberry32(seed);
}

function hashString(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A unit vector for a word, stable across runs. */
export function wordVector(word: string, dims: number): Float32Array {
  const random = seeded(hashString(word));
  const v = Float32Array.from({ length: dims }, () => random() * 2 - 1);
  return normalize(v);
}

export { normalize };

/** Bag-of-words embedder: the normalized sum of word vectors. Counts calls for cache tests. */
export function hashEmbedder(dims = 64, id = 'test-bow-64'): Embedder & { calls: number; texts: number } {
  const embedder = {
    id,
    dims,
    normalized: true,
    calls: 0,
    texts: 0,
    async embed(texts: readonly string[]): Promise<Float32Array> {
      embedder.calls++;
      embedder.texts += texts.length;
      const out = new Float32Array(texts.length * dims);
      texts.forEach((text, t) => {
        const sum = new Float32Array(dims);
        for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
          const v = wordVector(word, dims);
          for (let i = 0; i < dims; i++) sum[i] = sum[i]! + v[i]!;
        }
        out.set(normalize(sum), t * dims);
      });
      return out;
    },
    async dispose(): Promise<void> {},
  };
  return embedder;
}

/** Topic vocabularies of the synthetic corpus; feature i of a planted SAE is topic i. */
export const TOPICS: Record<string, string[]> = {
  jobs: ['career', 'salary', 'hiring', 'employer', 'resume', 'interview'],
  cooking: ['recipe', 'oven', 'flour', 'simmer', 'garlic', 'baking'],
  astronomy: ['planet', 'telescope', 'galaxy', 'orbit', 'comet', 'nebula'],
  medicine: ['symptoms', 'diagnosis', 'vaccine', 'patients', 'dosage', 'clinic'],
  football: ['goalkeeper', 'striker', 'penalty', 'league', 'stadium', 'referee'],
};

const FILLER = [
  'report',
  'local',
  'story',
  'today',
  'review',
  'simple',
  'guide',
  'notes',
  'details',
  'market',
];

/** `perTopic` documents per topic: five topic words and four filler words each, ids `<topic>-<n>`. */
export function plantedCorpus(perTopic = 12, seed = 7): CorpusDocument[] {
  const random = seeded(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const docs: CorpusDocument[] = [];
  for (const [topic, vocabulary] of Object.entries(TOPICS)) {
    for (let n = 0; n < perTopic; n++) {
      const body: string[] = [];
      for (let w = 0; w < 5; w++) body.push(pick(vocabulary));
      for (let w = 0; w < 4; w++) body.push(pick(FILLER));
      body.sort(() => random() - 0.5);
      docs.push({ id: `${topic}-${n}`, title: `${pick(FILLER)} ${n}`, text: `${body.join(' ')}.` });
    }
  }
  return docs;
}

/**
 * SAE weights with one planted feature per direction in `directions` (encoder row = decoder column = the
 * unit direction, bias 0) followed by `extra` random features with a negative bias.
 */
export function plantedWeights(
  directions: Float32Array[],
  dims: number,
  extra: number,
  seed = 3,
): SaeWeights {
  return plantWeights(directions, dims, extra, { seed, bias: (_j, _n, planted) => (planted ? 0 : -0.3) });
}

/** Topic direction of the bag-of-words embedder: the normalized sum of the topic's word vectors. */
export function topicDirection(topic: string, dims: number): Float32Array {
  const sum = new Float32Array(dims);
  for (const word of TOPICS[topic]!) {
    const v = wordVector(word, dims);
    for (let i = 0; i < dims; i++) sum[i] = sum[i]! + v[i]!;
  }
  return normalize(sum);
}

/** Writes a planted SAE (one feature per topic of TOPICS, then `extra` random ones) into a new temp folder. */
export async function writePlantedSae(
  options: { dims?: number; extra?: number; k?: number; model?: string } = {},
): Promise<{ dir: string; weights: SaeWeights }> {
  const dims = options.dims ?? 64;
  const weights = plantedWeights(
    Object.keys(TOPICS).map((topic) => topicDirection(topic, dims)),
    dims,
    options.extra ?? 11,
  );
  const dir = join(await mkdtemp(join(tmpdir(), 'steer-catalog-')), 'sae');
  await writeSae(dir, weights, {
    k: options.k ?? 3,
    embedding: { model: options.model ?? 'test-bow-64', dims, normalized: true },
    training: { note: 'planted test SAE' },
  });
  return { dir, weights };
}
