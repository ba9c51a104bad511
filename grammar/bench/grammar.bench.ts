// Benchmark of the query language: parse latency (the editor re-parses per keystroke; budget p99 < 1 ms for
// typical queries) and parse + compile throughput, for typical and 1,000-character queries. Each figure is
// reported next to a baseline measured in the same run (lexing alone, or parsing alone).
import { performance } from 'node:perf_hooks';
import { compile, parse, type FeatureCatalog, type FeatureInfo, type Query } from '../src/index.js';
import { steerLexer } from '../src/tokens.js';

export interface BenchFigure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

const TYPICAL = [
  '"jobs"',
  '"data science jobs" +@learning*0.5 -f179',
  '"remote work" "startups"^0.5 +~"career growth"/3 k=20 where lang:en',
  '"jobs" $career -@noise*2x =f1203*0.3 mode=hybrid',
  '"machine learning" +f12*1.5x +f88 -f4000 where year>=2020 and (lang:en or lang:de)',
  '"nurse" "hospital"^0.3 +@"patient care"*0.4 k=50 index=docs steer=residual',
  '"welding" where region:(north,south,"east coast") and not remote:true',
  '"ai safety" +~"alignment research"/2*2x -@hype k=10 candidates=200',
];

function longQuery(seed: number): string {
  const parts = ['"long query about careers and learning"'];
  let i = seed;
  while (parts.join(' ').length < 960) {
    i = (i * 1103515245 + 12345) % 2147483648;
    const id = i % 16384;
    parts.push(
      [`+f${id}*0.${(i % 9) + 1}`, `-@alias${id % 50}`, `"text ${id}"^0.5`, `=~"concept ${id}"/2*1x`][i % 4]!,
    );
  }
  return `${parts.join(' ')} k=10 where year>=2020 and lang:(en,de)`.slice(0, 1000);
}

const LONG = Array.from({ length: 8 }, (_, i) => longQuery(i + 1));

function benchCatalog(): FeatureCatalog {
  const features: FeatureInfo[] = Array.from({ length: 16384 }, (_, id) => ({
    id,
    label: `feature ${id}`,
    aliases: id < 50 ? [`alias${id}`] : id === 100 ? ['learning'] : id === 101 ? ['noise'] : [],
    typicalActivation: 0.1 + (id % 10) / 20,
  }));
  features[102]!.label = 'patient care';
  features[103]!.aliases = ['hype'];
  const byName = new Map<string, FeatureInfo[]>();
  for (const f of features)
    for (const name of [f.label!, ...(f.aliases ?? [])]) byName.set(name, [...(byName.get(name) ?? []), f]);
  return {
    nLatents: features.length,
    saeId: 'sae-bench',
    get: (id) => features[id],
    byAliasOrLabel: (name) => byName.get(name) ?? [],
    searchConcept: async (text, limit) =>
      Array.from({ length: limit }, (_, i) => ({
        feature: features[(text.length * 31 + i) % features.length]!,
        score: 1 - i / 10,
      })),
  };
}

function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))]!;
}

function latencies(inputs: string[], iterations: number, run: (text: string) => void): number[] {
  for (let i = 0; i < 200; i++) run(inputs[i % inputs.length]!); // warm up the JIT
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const text = inputs[i % inputs.length]!;
    const start = performance.now();
    run(text);
    out.push(performance.now() - start);
  }
  return out.sort((a, b) => a - b);
}

async function throughput(
  inputs: string[],
  seconds: number,
  catalog: FeatureCatalog,
  withCompile: boolean,
): Promise<number> {
  const queries = inputs.map((text) => parse(text).ast.statements[0] as Query);
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < inputs.length; i++) {
      const { ast } = parse(inputs[i]!);
      if (withCompile) await compile((ast.statements[0] as Query) ?? queries[i]!, { catalog });
      done++;
    }
  }
  return done / ((performance.now() - start) / 1000);
}

/** Runs the grammar benchmark and reports each figure through `report`. */
export async function run(report: (figure: BenchFigure) => void): Promise<void> {
  const catalog = benchCatalog();
  for (const [name, inputs, iterations] of [
    ['typical', TYPICAL, 20_000],
    ['1000-char', LONG, 4_000],
  ] as const) {
    const lexP99 = percentile(
      latencies([...inputs], iterations, (text) => steerLexer().tokenize(text)),
      99,
    );
    const parseSorted = latencies([...inputs], iterations, (text) => parse(text));
    const parseP99 = percentile(parseSorted, 99);
    report({
      figure: `grammar.parse.p99.${name}`,
      value: parseP99,
      unit: 'ms',
      vs: { figure: `grammar.lex.p99.${name}`, value: lexP99, ratio: parseP99 / lexP99 },
    });
    report({ figure: `grammar.parse.p50.${name}`, value: percentile(parseSorted, 50), unit: 'ms' });
    const parseOnly = await throughput([...inputs], 1, catalog, false);
    const parseCompile = await throughput([...inputs], 1, catalog, true);
    report({
      figure: `grammar.parse+compile.throughput.${name}`,
      value: parseCompile,
      unit: 'queries/s',
      vs: { figure: `grammar.parse.throughput.${name}`, value: parseOnly, ratio: parseCompile / parseOnly },
    });
  }
}
