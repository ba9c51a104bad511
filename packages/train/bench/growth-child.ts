// One point of the growth benchmark, in its own process so that its peak resident memory is its own:
// argv = the planted .npy file, the state/output folder, the training steps. Streams the file, mines the KL groups
// (auto: exact or IVF), trains that many steps, and prints one JSON line with the timings and memory.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openVectorFiles, train, type TrainEvent } from '../src/index.js';

const [file, work, stepsArg] = process.argv.slice(2);
if (file !== undefined && work !== undefined && stepsArg !== undefined)
  await run(file, work, Number(stepsArg));

/** What the parent reads back. */
export interface GrowthPoint {
  rows: number;
  mining: {
    method: string;
    seconds: number;
    lists?: number;
    probes?: number;
    recall?: number;
    sample?: number;
  };
  /** Seconds per training step, over the steps after the first 10. */
  secondsPerStep: number;
  stepsPerEpoch: number;
  /** Peak resident set of the whole process (kernel high-water mark), and the peak sampled while training. */
  peakRssBytes: number;
  trainingPeakRssBytes: number;
}

async function run(path: string, dir: string, steps: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  const source = await openVectorFiles(path);
  let mining: GrowthPoint['mining'] | undefined;
  const stepTimes: number[] = [];
  let trainingPeak = 0;
  let sampler: NodeJS.Timeout | undefined;
  let groups = 0;
  const onEvent = (event: TrainEvent): void => {
    if (event.type === 'neighbour-search') {
      mining = {
        method: event.method,
        seconds: event.seconds,
        ...(event.lists !== undefined ? { lists: event.lists, probes: event.probes } : {}),
        ...(event.recall !== undefined ? { recall: event.recall, sample: event.sample } : {}),
      };
    }
    if (event.type === 'groups') groups = event.train;
    if (event.type === 'progress' && event.phase === 'train') {
      stepTimes.push(performance.now());
      sampler ??= setInterval(() => {
        trainingPeak = Math.max(trainingPeak, process.memoryUsage().rss);
      }, 100);
      trainingPeak = Math.max(trainingPeak, process.memoryUsage().rss);
    }
  };
  await train(
    { dModel: source.dims, docs: source },
    {
      nLatents: 8192,
      k: 32,
      epochs: 1,
      batch: 512,
      neighbours: 8,
      maxSteps: steps,
      evaluationRows: 4096,
      out: join(dir, 'sae'),
      stateDir: join(dir, 'state'),
      embedding: { model: 'planted', dims: source.dims, normalized: true },
      backend: 'wasm',
      seed: 1,
      onEvent,
    },
  );
  if (sampler) clearInterval(sampler);
  source.close();
  const warm = stepTimes.slice(10);
  const point: GrowthPoint = {
    rows: source.rows,
    mining: mining ?? { method: 'none', seconds: 0 },
    secondsPerStep: (warm.at(-1)! - warm[0]!) / 1000 / Math.max(1, warm.length - 1),
    stepsPerEpoch: Math.ceil(groups / 56),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    trainingPeakRssBytes: trainingPeak,
  };
  process.stdout.write(`${JSON.stringify(point)}\n`);
  await rm(dir, { recursive: true, force: true });
}
