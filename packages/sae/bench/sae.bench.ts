// Benchmarks of the SAE runtime on random weights in a temp dir: batch-encode throughput (vs a naive JS
// encoder), per-query steering overhead (set/zero edits through the edit index or the encoder, reconstructed mode,
// the encoder-free add-only path) with the index's agreement with the full encoder, load time and resident memory,
// at d=512/n=32768/k=32 and the paper's d=768/n=196608/k=128.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { readSaeHeader, readSaeTensors } from '../src/artifact.js';
import { EditIndex } from '../src/edit-index.js';
import { pursuitCandidates } from '../src/pursuit.js';
import {
  loadSae,
  readSaeManifest,
  readSaeWeights,
  writeSae,
  type FeatureEdit,
  type QueryCoding,
  type SaeManifest,
  type SaeRuntime,
} from '../src/index.js';

/** One printed figure, as the repository's bench runner expects. */
export interface BenchFigure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}
export type Report = (figure: BenchFigure) => void;

const execFileAsync = promisify(execFile);

/** Size of a benchmark SAE. */
export interface SaeSize {
  dModel: number;
  nLatents: number;
  k: number;
}

export const BENCH_SIZES: readonly SaeSize[] = [
  { dModel: 512, nLatents: 32768, k: 32 },
  { dModel: 768, nLatents: 196608, k: 128 },
];

/** SAEs the size of Table 1's (docs/results/table1.md: 2,048 latents on 512-d vectors), for query coding by pursuit. */
const TABLE1_SIZES: readonly SaeSize[] = [
  { dModel: 512, nLatents: 2048, k: 32 },
  { dModel: 512, nLatents: 2048, k: 128 },
];

/** Deterministic xorshift32 uniform numbers in [-scale, scale). */
function fillUniform(target: Float32Array, seed: number, scale: number): Float32Array {
  let state = seed >>> 0 || 1;
  for (let i = 0; i < target.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    target[i] = ((state >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return target;
}

/** Random unit-norm vectors [count, dModel]. */
export function randomUnitVectors(count: number, dModel: number, seed: number): Float32Array {
  const vectors = fillUniform(new Float32Array(count * dModel), seed, 1);
  for (let row = 0; row < count; row++) {
    const v = vectors.subarray(row * dModel, (row + 1) * dModel);
    const norm = Math.hypot(...v);
    for (let j = 0; j < dModel; j++) v[j] = v[j]! / norm;
  }
  return vectors;
}

/** Writes an SAE with random weights (scaled like a freshly initialised TopK SAE) to `dir`. */
export async function createRandomSae(dir: string, size: SaeSize, seed = 1): Promise<SaeManifest> {
  const { dModel: d, nLatents: n, k } = size;
  return writeSae(
    dir,
    {
      W_enc: fillUniform(new Float32Array(n * d), seed, 1 / Math.sqrt(d)),
      b_enc: fillUniform(new Float32Array(n), seed + 1, 0.01),
      W_dec: fillUniform(new Float32Array(d * n), seed + 2, 1 / Math.sqrt(d)),
      b_dec: fillUniform(new Float32Array(d), seed + 3, 0.01),
      dModel: d,
      nLatents: n,
    },
    { k, embedding: { model: 'random-bench', dims: d, normalized: true }, training: { random: true, seed } },
  );
}

function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.ceil((p / 100) * sortedMs.length) - 1)]!;
}

/** Per-query latencies (ms) at the 50th and 99th percentile. */
export interface LatencySummary {
  p50: number;
  p99: number;
}

async function timeQueries(
  queries: readonly Float32Array[],
  step: (query: Float32Array, i: number) => Promise<unknown>,
): Promise<LatencySummary> {
  for (let i = 0; i < Math.min(3, queries.length); i++) await step(queries[i]!, i);
  const times: number[] = [];
  for (let i = 0; i < queries.length; i++) {
    const start = performance.now();
    await step(queries[i]!, i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Edits of the full path: a `zero` (which needs the query's latents, so the encoder runs) and an `add`. */
function fullEdits(runtime: SaeRuntime, i: number): FeatureEdit[] {
  const n = runtime.manifest.nLatents;
  return [
    { feature: (i * 104729) % n, op: 'zero' },
    { feature: (i * 7919) % n, op: 'add', value: 2 },
  ];
}

/** How the edit index's answers compare with the full encoder's over a set of queries. */
export interface EditAgreement {
  /** Edits asked about. */
  edits: number;
  /** Decided without the encoder (by the probes, or by the int8 scan). */
  decided: number;
  byProbes: number;
  /** Decided answers equal to the encoder's activation (within float32 rounding, 1e-6 relative). */
  exact: number;
  /** Mean share of the encoder's top k among the int8 scan's top k (by its approximate scores), where it ran. */
  latentSetRecall: number | undefined;
}

/**
 * Measures per-query steering overhead on an SAE folder (milliseconds): `p50`/`p99` of a residual `zero` of a
 * random feature plus an `add` (the edit index decides most without the encoder), `zeroActive`: a `zero` of the
 * query's strongest feature (the usual "suppress what this query is about"), `exactEncoder`: the first edits through
 * the full encoder (`exactEdits`), `reconstructed`: the same edits decoded in full (W_dec h' + b_dec), and `addOnly`,
 * the encoder-free path of residual `add` edits. The index is built (or loaded from its cache) in the first pass's warm-up.
 */
export async function measureSteeringOverhead(
  dir: string,
  queries: readonly Float32Array[],
  options: { provider?: 'cpu' | 'webgpu' | 'auto' } = {},
): Promise<
  LatencySummary & {
    zeroActive: LatencySummary;
    exactEncoder: LatencySummary;
    reconstructed: LatencySummary;
    addOnly: LatencySummary;
  }
> {
  if (queries.length === 0)
    throw new Error('sae bench: measureSteeringOverhead needs at least one query vector');
  // NOTE: each pass gets its own runtime: a runtime remembers the latents of the queries it encoded last, which
  // would let a later pass over the same queries skip the encoder.
  const pass = async (
    step: (runtime: SaeRuntime, query: Float32Array, i: number) => Promise<unknown>,
  ): Promise<LatencySummary> => {
    const runtime = await loadSae(dir, { provider: options.provider ?? 'cpu', verifyHash: false });
    try {
      return await timeQueries(queries, (query, i) => step(runtime, query, i));
    } finally {
      await runtime.dispose();
    }
  };
  const exact = await loadSae(dir, {
    provider: options.provider ?? 'cpu',
    verifyHash: false,
    editIndex: false,
  });
  const strongest = await Promise.all(queries.map(async (q) => (await exact.encode(q, 1)).indices[0]!));
  const n = exact.manifest.nLatents;
  await exact.dispose();
  // The first pass builds the edit index (or loads it from beside the SAE) in its warm-up queries.
  const full = await pass((runtime, query, i) =>
    runtime.steer(query, fullEdits(runtime, i), { returnLatents: false }),
  );
  const zeroActive = await pass((runtime, query, i) =>
    runtime.steer(query, [{ feature: strongest[i]!, op: 'zero' }], { returnLatents: false }),
  );
  const exactEncoder = await pass((runtime, query, i) =>
    runtime.steer(query, fullEdits(runtime, i), { returnLatents: false, exactEdits: true }),
  );
  const reconstructed = await pass((runtime, query, i) =>
    runtime.steer(query, fullEdits(runtime, i), { mode: 'reconstructed', returnLatents: false }),
  );
  const addOnly = await pass((runtime, query, i) =>
    runtime.steer(query, [{ feature: (i * 7919) % n, op: 'add', value: 2 }], { returnLatents: false }),
  );
  return { ...full, zeroActive, exactEncoder, reconstructed, addOnly };
}

/**
 * Compares the edit index's answers with the full encoder on `queries`, for the two kinds of edits of
 * {@link measureSteeringOverhead}: a random feature, and the query's strongest one.
 */
export async function measureEditAgreement(
  dir: string,
  queries: readonly Float32Array[],
): Promise<{ random: EditAgreement; strongest: EditAgreement }> {
  const manifest = await readSaeManifest(dir);
  const header = await readSaeHeader(dir, manifest);
  const bDec = (await readSaeTensors(dir, manifest, header, ['b_dec'], false)).get('b_dec')!;
  const index = await EditIndex.open(dir, manifest, header, bDec);
  if (index === undefined) throw new Error(`sae bench: no edit index for ${dir} (read-only or too small)`);
  const runtime = await loadSae(dir, { verifyHash: false, editIndex: false });
  const empty = (): EditAgreement & { recallSum: number; recallRuns: number } => ({
    edits: 0,
    decided: 0,
    byProbes: 0,
    exact: 0,
    latentSetRecall: undefined,
    recallSum: 0,
    recallRuns: 0,
  });
  const tallies = { random: empty(), strongest: empty() };
  try {
    const { k, nLatents: n } = manifest;
    for (const [i, query] of queries.entries()) {
      const exact = await runtime.encode(query, 1);
      const h = new Map<number, number>();
      for (let t = 0; t < k; t++) h.set(exact.indices[t]!, exact.values[t]!);
      for (const kind of ['random', 'strongest'] as const) {
        const feature = kind === 'random' ? (i * 104729) % n : exact.indices[0]!;
        const found = await index.activations(query, [feature]);
        const tally = tallies[kind];
        tally.edits++;
        if (found.stage === 1 && found.decided[0]) tally.byProbes++;
        if (found.decided[0]) {
          tally.decided++;
          const want = Math.max(0, h.get(feature) ?? 0);
          if (Math.abs(found.values[0]! - want) <= 1e-6 * Math.abs(want)) tally.exact++;
        }
        if (found.stage === 2) {
          // The scan's own top k (by its approximate scores) against the encoder's.
          const order = [...found.approximate.keys()].sort(
            (a, b) => found.approximate[b]! - found.approximate[a]!,
          );
          tally.recallSum += order.slice(0, k).filter((latent) => h.has(latent)).length / k;
          tally.recallRuns++;
        }
      }
    }
  } finally {
    await runtime.dispose();
    await index.dispose();
  }
  const finish = ({ recallSum, recallRuns, ...tally }: ReturnType<typeof empty>): EditAgreement => ({
    ...tally,
    latentSetRecall: recallRuns > 0 ? recallSum / recallRuns : undefined,
  });
  return { random: finish(tallies.random), strongest: finish(tallies.strongest) };
}

/**
 * Loads an SAE in a fresh Node process (so earlier allocations do not blur the numbers) and returns the
 * load time and the growth of resident memory from before loadSae to after the first encode.
 */
export async function measureLoadInFreshProcess(dir: string): Promise<{ loadMs: number; rssMb: number }> {
  const indexUrl = new URL('../src/index.js', import.meta.url).href;
  const script = `
    const { loadSae } = await import(${JSON.stringify(indexUrl)});
    const { performance } = await import('node:perf_hooks');
    const before = process.memoryUsage().rss;
    const start = performance.now();
    const runtime = await loadSae(${JSON.stringify(dir)}, { provider: 'cpu' });
    const loadMs = performance.now() - start;
    await runtime.encode(new Float32Array(runtime.manifest.dModel).fill(0.01), 1);
    const rssMb = (process.memoryUsage().rss - before) / 2 ** 20;
    await runtime.dispose();
    process.stdout.write(JSON.stringify({ loadMs, rssMb }));`;
  const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as { loadMs: number; rssMb: number };
}

/** Naive single-threaded JS encoder (dense matvec + top-k), the baseline for the onnxruntime encoder. */
function encodeNaive(
  W_enc: Float32Array,
  b_enc: Float32Array,
  b_dec: Float32Array,
  x: Float32Array,
  k: number,
): Int32Array {
  const d = b_dec.length;
  const n = b_enc.length;
  const centered = new Float32Array(d);
  for (let j = 0; j < d; j++) centered[j] = x[j]! - b_dec[j]!;
  const pre = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b_enc[i]!;
    for (let j = 0, at = i * d; j < d; j++, at++) sum += W_enc[at]! * centered[j]!;
    pre[i] = sum;
  }
  return Int32Array.from([...pre.keys()].sort((a, b) => pre[b]! - pre[a]!).slice(0, k));
}

/** Load time (verifying sha256) and resident memory of a fresh process against the fp32 weight bytes. */
async function benchLoad(report: Report, saeDir: string, label: string): Promise<void> {
  const manifest = await readSaeManifest(saeDir);
  const load = await measureLoadInFreshProcess(saeDir);
  const weightsMb = (2 * manifest.dModel * manifest.nLatents * 4) / 2 ** 20;
  report({ figure: `sae load time, verifying sha256 (${label})`, value: load.loadMs, unit: 'ms' });
  report({
    figure: `sae resident memory after load + first encode, fresh process (${label})`,
    value: load.rssMb,
    unit: 'MiB',
    vs: { figure: 'fp32 weight bytes (W_enc + W_dec)', value: weightsMb, ratio: load.rssMb / weightsMb },
  });
}

/** Batch-encode throughput of the onnxruntime encoder against the naive JS encoder. */
async function benchEncode(report: Report, saeDir: string, size: SaeSize, label: string): Promise<void> {
  const runtime = await loadSae(saeDir, { provider: 'cpu', verifyHash: false });
  const count = size.nLatents > 100_000 ? 512 : 4096;
  const vectors = randomUnitVectors(count, size.dModel, 7);
  const encodeStart = performance.now();
  await runtime.encodeBatches(vectors, count, { batchSize: 128 });
  const onnxRate = count / ((performance.now() - encodeStart) / 1000);
  await runtime.dispose();

  // Baseline: the naive JS encoder, on a few vectors (it needs W_enc in JS memory, loaded after the runtime is gone).
  const weights = await readSaeWeights(saeDir, { verifyHash: false });
  const naiveCount = size.nLatents > 100_000 ? 4 : 32;
  const naiveStart = performance.now();
  for (let i = 0; i < naiveCount; i++) {
    encodeNaive(
      weights.W_enc,
      weights.b_enc,
      weights.b_dec,
      vectors.subarray(i * size.dModel, (i + 1) * size.dModel),
      size.k,
    );
  }
  const naiveRate = naiveCount / ((performance.now() - naiveStart) / 1000);
  report({
    figure: `sae batch-encode throughput, onnxruntime cpu, batch 128 (${label})`,
    value: onnxRate,
    unit: 'vectors/s',
    vs: { figure: 'naive JS encoder', value: naiveRate, ratio: onnxRate / naiveRate },
  });
}

/** Per-query steering overhead (p50, p99) of each path, against the full encoder. */
async function benchSteeringOverhead(
  report: Report,
  saeDir: string,
  queries: Float32Array[],
  label: string,
): Promise<void> {
  const overhead = await measureSteeringOverhead(saeDir, queries);
  const encoder = overhead.exactEncoder;
  const figure = (what: string, value: number, unit = 'ms', vs?: BenchFigure['vs']): BenchFigure => ({
    figure: `sae steering overhead ${what} (${label})`,
    value,
    unit,
    ...(vs ? { vs } : {}),
  });
  const vsEncoder = (value: number, percentile: 'p50' | 'p99', what = 'full encoder') => ({
    figure: `${what} ${percentile}`,
    value: encoder[percentile],
    ratio: value / encoder[percentile],
  });
  const randomEdit = 'zero/add of a random feature + residual update, edit index';
  report(figure(`p50, ${randomEdit}`, overhead.p50, 'ms', vsEncoder(overhead.p50, 'p50')));
  report(figure(`p99, ${randomEdit}`, overhead.p99, 'ms', vsEncoder(overhead.p99, 'p99')));
  const zeroActive = overhead.zeroActive.p50;
  report(
    figure(
      "p50, zero of the query's strongest feature, edit index",
      zeroActive,
      'ms',
      vsEncoder(zeroActive, 'p50'),
    ),
  );
  const reconstructed = overhead.reconstructed;
  const reconstructedEdit = 'encode + zero/add + full decode, reconstructed mode';
  report(
    figure(
      `p50, ${reconstructedEdit}`,
      reconstructed.p50,
      'ms',
      vsEncoder(reconstructed.p50, 'p50', 'full encoder, residual'),
    ),
  );
  report(figure(`p99, ${reconstructedEdit}`, reconstructed.p99));
  const addOnly = overhead.addOnly;
  report(figure('p50, residual add only, no encoder', addOnly.p50, 'ms', vsEncoder(addOnly.p50, 'p50')));
  report(figure('p99, residual add only, no encoder', addOnly.p99));
}

/**
 * Per-query time of `code=pursuit` (reconstructed steering with the query coded by pursuit over the decoder)
 * against the same steering with the encoder's code, side by side on the same queries. Pursuit costs about
 * k x dModel x nLatents multiply-adds per query up to 4,096 latents; a larger SAE is screened to max(8k, 4,096)
 * candidate atoms by one pass over W_dec, then pursued over those (`pursuitCandidates`).
 */
async function benchPursuitCoding(
  report: Report,
  saeDir: string,
  queries: Float32Array[],
  label: string,
): Promise<void> {
  const runtime = await loadSae(saeDir, { provider: 'cpu', verifyHash: false });
  try {
    const timed = queries.slice(0, 20);
    const edits: FeatureEdit[] = [{ feature: 0, op: 'add', value: 0.5 }];
    const median = async (coding: QueryCoding): Promise<number> => {
      const times: number[] = [];
      for (const query of timed) {
        const start = performance.now();
        await runtime.steer(query, edits, {
          mode: 'reconstructed',
          coding,
          returnLatents: false,
          exactEdits: true,
        });
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      return percentile(times, 50);
    };
    await runtime.steer(timed[0]!, edits, { mode: 'reconstructed', exactEdits: true });
    const byEncoder = await median('encoder');
    const byPursuit = await median('pursuit');
    const { nLatents, k } = runtime.manifest;
    const candidates = pursuitCandidates(nLatents, k);
    const atoms = candidates < nLatents ? `screened to ${candidates} of ${nLatents} atoms` : 'every atom';
    report({
      figure: `sae steering overhead p50, reconstructed mode with code=pursuit (${atoms}), ${timed.length} queries (${label})`,
      value: byPursuit,
      unit: 'ms',
      vs: {
        figure: 'reconstructed mode with the encoder p50',
        value: byEncoder,
        ratio: byPursuit / byEncoder,
      },
    });
  } finally {
    await runtime.dispose();
  }
}

/** How often the edit index decides an edit without the encoder, and how often it agrees with the encoder. */
async function benchEditAgreement(
  report: Report,
  saeDir: string,
  queries: Float32Array[],
  label: string,
): Promise<void> {
  const agreement = await measureEditAgreement(saeDir, queries);
  for (const [kind, tally] of Object.entries(agreement)) {
    const what = kind === 'random' ? 'a random feature' : "the query's strongest feature";
    report({
      figure: `sae edit index, ${what}: edits decided without the encoder (${label})`,
      value: (100 * tally.decided) / tally.edits,
      unit: '%',
    });
    report({
      figure: `sae edit index, ${what}: edits decided by the probes alone (${label})`,
      value: (100 * tally.byProbes) / tally.edits,
      unit: '%',
    });
    report({
      figure: `sae edit index, ${what}: decided activations equal to the full encoder's (${label})`,
      value: (100 * tally.exact) / Math.max(1, tally.decided),
      unit: '%',
    });
    if (tally.latentSetRecall !== undefined) {
      report({
        figure: `sae edit index, ${what}: latent-set recall of the int8 scan's top k vs the encoder's (${label})`,
        value: tally.latentSetRecall,
        unit: 'recall',
      });
    }
  }
}

/** Runs `bench` on a random SAE of `size` written to a temporary folder (removed after), with the size's label. */
async function withRandomSae(
  size: SaeSize,
  bench: (saeDir: string, label: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-sae-bench-'));
  try {
    const saeDir = join(dir, 'sae');
    await createRandomSae(saeDir, size);
    await bench(saeDir, `d=${size.dModel},n=${size.nLatents},k=${size.k}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchSize(report: Report, size: SaeSize): Promise<void> {
  await withRandomSae(size, async (saeDir, label) => {
    await benchLoad(report, saeDir, label);
    await benchEncode(report, saeDir, size, label);
    const queries = Array.from({ length: size.nLatents > 100_000 ? 60 : 200 }, (_, i) =>
      randomUnitVectors(1, size.dModel, 1000 + i),
    );
    await benchSteeringOverhead(report, saeDir, queries, label);
    await benchPursuitCoding(report, saeDir, queries, label);
    await benchEditAgreement(report, saeDir, queries, label);
  });
}

/**
 * Runs the SAE benchmarks. `STEER_BENCH_SAE_SIZES=small` limits them to d=512,n=32768,k=32 (the paper
 * size writes ~1.2 GB to the temp dir and needs ~3 GB of memory).
 */
export async function run(report: Report): Promise<void> {
  const sizes = process.env.STEER_BENCH_SAE_SIZES === 'small' ? BENCH_SIZES.slice(0, 1) : BENCH_SIZES;
  for (const size of sizes) await benchSize(report, size);
  for (const size of TABLE1_SIZES) {
    await withRandomSae(size, (saeDir, label) => {
      const queries = Array.from({ length: 20 }, (_, i) => randomUnitVectors(1, size.dModel, 1000 + i));
      return benchPursuitCoding(report, saeDir, queries, label);
    });
  }
}
