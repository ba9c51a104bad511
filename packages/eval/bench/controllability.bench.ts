// Benchmark of controllability on real data (issue 12): bbc-news from ../shared/datasets, one held-out split
// (seed 0), SAE trained on the rest (cached between runs), catalog by `steer label`; queries steered toward each
// other topic with `+~"<topic description>"` at the default strength. The full study (3 seeds, intervals) is
// `steer experiment controllability` (docs/results/controllability.md).
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbedder } from '@steer/embed';
import { BBC_TOPICS_FILE, prepareTrainer, runControllabilityStudy } from '../src/index.js';

interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

const dataset = fileURLToPath(new URL('../../../../../shared/datasets/bbc-news', import.meta.url));

/** Runs the benchmark; skips (with a note on stderr) when ../shared/datasets/bbc-news is absent. */
export async function run(report: (figure: Figure) => void): Promise<void> {
  if (!existsSync(join(dataset, 'corpus.jsonl'))) {
    process.stderr.write(`controllability bench skipped: ${dataset} is absent\n`);
    return;
  }
  // NOTE: the trainer's wasm backend must start before the default embedder loads its own TF.js.
  await prepareTrainer();
  const cacheDir = process.env.STEER_BENCH_CACHE ?? join(tmpdir(), 'steer-bench-controllability');
  const embedder = await createEmbedder('default', { cacheDir: join(cacheDir, 'embeddings') });
  try {
    const { results } = await runControllabilityStudy({
      datasetDir: dataset,
      topicsPath: fileURLToPath(BBC_TOPICS_FILE),
      seeds: [0],
      cacheDir,
      embedder,
    });
    const result = results[0]!;
    const setting = result.settings.find((s) => s.source === 'description' && s.edit === '+~"<topic>"')!;
    const names = result.precision.filter((p) => p.source === 'name');
    report({
      figure: `controllability bbc-news seed 0: target topic share of the top 10 after +~"<description>" at 1x (goal >= 0.6; SAE ${result.saeId})`,
      value: setting.shareAfter.value,
      unit: 'fraction',
      vs: {
        figure: 'share before steering',
        value: setting.shareBefore.value,
        ratio: setting.shareAfter.value / setting.shareBefore.value,
      },
    });
    report({
      figure: 'controllability: share of (query, topic) pairs that gained (goal >= 0.9)',
      value: setting.gained.value,
      unit: 'fraction',
    });
    report({
      figure: 'controllability: share of the steered top 10 from the unsteered top 100 (goal >= 0.3)',
      value: setting.kept.value,
      unit: 'fraction',
    });
    const byName = result.settings.find((s) => s.source === 'name' && s.edit === '+~"<topic>"')!;
    for (const [what, value, goal] of [
      ['target topic share of the top 10', byName.shareAfter.value, 0.6],
      ['share of pairs that gained', byName.gained.value, 0.9],
      ['share of the steered top 10 from the unsteered top 100', byName.kept.value, 0.3],
    ] as const) {
      report({
        figure: `controllability by topic name (+~"<name>" at 1x): ${what} (goal >= ${goal})`,
        value,
        unit: 'fraction',
      });
    }
    const descriptions = result.precision.filter((p) => p.source === 'description');
    const previous = (source: 'name' | 'description') =>
      result.variants.find((v) => v.name === 'previous score' && v.source === source)!.precisionAt1;
    const p1Names = names.reduce((a, p) => a + p.precisionAt1, 0) / names.length;
    const p1Descriptions = descriptions.reduce((a, p) => a + p.precisionAt1, 0) / descriptions.length;
    report({
      figure: 'concept search precision@1 on the topic names (goal >= 0.8)',
      value: p1Names,
      unit: 'fraction',
      vs: {
        figure: 'previous score (0.65 t + 0.05 a + 0.15 b + 0.15 c)',
        value: previous('name'),
        ratio: p1Names / previous('name'),
      },
    });
    report({
      figure: 'concept search precision@1 on the topic descriptions (goal >= 0.8)',
      value: p1Descriptions,
      unit: 'fraction',
      vs: {
        figure: 'previous score',
        value: previous('description'),
        ratio: p1Descriptions / previous('description'),
      },
    });
  } finally {
    await embedder.dispose();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) await run((f) => console.log(JSON.stringify(f)));
