// Planted-dictionary vectors written straight to a .npy file in chunks (the growth benchmark's data; 1M x 768 is
// 3 GB, so it never exists in memory): unit rows, each a mix of a few atoms. Like documents of a real corpus, rows
// belong to topics (Zipf-like popularity): most of a row's atoms come from its topic's own small set of atoms, the
// rest from the whole dictionary, so rows of one topic share features and cluster.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createNpyWriter, readNpyHeader } from '@steer/embed';
import { Rng } from '../src/rng.js';
import { plantedDictionary, plantedRows } from '../test/support/synthetic.js';

/** Shape of the planted data. */
export interface PlantedSpec {
  rows: number;
  dims: number;
  atoms: number;
  /** Atoms per row. */
  active: number;
  /** Topics, each with `topicAtoms` atoms (0: no topics). */
  topics: number;
  topicAtoms: number;
  /** Atoms of a row drawn from its topic's atoms; the others come from the whole dictionary. */
  fromTopic: number;
  seed: number;
}

/**
 * The path of the planted file for `spec` under `dir`, written first when missing (an existing file of the right
 * shape is reused: the content is a function of the spec).
 */
export async function plantedNpy(dir: string, spec: PlantedSpec): Promise<string> {
  const path = join(
    dir,
    `planted-d${spec.dims}-n${spec.rows}-a${spec.atoms}-k${spec.active}-t${spec.topics}x${spec.topicAtoms}f${spec.fromTopic}-s${spec.seed}.npy`,
  );
  if (existsSync(path)) {
    const header = await readNpyHeader(path).catch(() => undefined);
    if (header?.shape[0] === spec.rows && header.shape[1] === spec.dims) return path;
  }
  await mkdir(dir, { recursive: true });
  const rng = new Rng(spec.seed);
  const { dims: d, atoms } = spec;
  const dict = plantedDictionary(rng, d, atoms);
  const zipf = (n: number): (() => number) => {
    // Item i is drawn with probability proportional to 1 / (i + 10): a few common ones, a long tail.
    const cumulative = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) cumulative[i] = sum += 1 / (i + 10);
    return () => {
      const u = rng.next() * sum;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! < u) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
  };
  const globalAtom = zipf(atoms);
  const topicOf = spec.topics > 0 ? zipf(spec.topics) : () => -1;
  const topicAtoms = Int32Array.from({ length: spec.topics * spec.topicAtoms }, () => rng.int(atoms));
  let topic = -1;
  let drawn = 0;
  // A row's first `fromTopic` draws come from its topic's atoms, the others from the whole dictionary.
  const pickAtom = (): number => {
    const own = topic >= 0 && drawn++ < spec.fromTopic;
    return own ? topicAtoms[topic * spec.topicAtoms + rng.int(spec.topicAtoms)]! : globalAtom();
  };
  const writer = await createNpyWriter(path, d);
  const chunk = 4096;
  const block = new Float32Array(chunk * d);
  try {
    for (let start = 0; start < spec.rows; start += chunk) {
      const count = Math.min(chunk, spec.rows - start);
      const rows = block.subarray(0, count * d);
      rows.fill(0);
      for (let r = 0; r < count; r++) {
        topic = topicOf();
        drawn = 0;
        plantedRows(rng, dict, d, atoms, spec.active, rows.subarray(r * d, r * d + d), pickAtom);
        let norm = 0;
        for (let c = 0; c < d; c++) norm += rows[r * d + c]! ** 2;
        const scale = 1 / Math.sqrt(norm);
        for (let c = 0; c < d; c++) rows[r * d + c]! *= scale;
      }
      await writer.append(rows);
    }
    await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return path;
}
