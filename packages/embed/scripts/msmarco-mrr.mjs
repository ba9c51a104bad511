// One-off sanity check (not a test): dense retrieval with the default embedder on msmarco-5k should give
// MRR@10 ~0.573 and R@10 ~0.182 at grade >= 2 (see ../shared/datasets/README.md).
// Usage (after `npx tsc -b packages/embed`): node packages/embed/scripts/msmarco-mrr.mjs [cacheDir]
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbedder } from '@steer/embed';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const data = join(root, '..', 'shared', 'datasets', 'msmarco-5k');
const readJsonl = (name) =>
  readFileSync(join(data, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
const corpus = readJsonl('corpus.jsonl');
const queries = readJsonl('queries.jsonl');
const relevant = new Map();
for (const line of readFileSync(join(data, 'qrels.tsv'), 'utf8').split('\n')) {
  const [query, doc, grade] = line.split('\t');
  if (!query || Number(grade) < 2) continue;
  if (!relevant.has(query)) relevant.set(query, new Set());
  relevant.get(query).add(doc);
}
const embedder = await createEmbedder('default', {
  cacheDir: process.argv[2] ?? join(tmpdir(), 'steer-embed-msmarco-cache'),
});
const started = performance.now();
const docVectors = new Float32Array(corpus.length * embedder.dims);
for (let i = 0; i < corpus.length; i += 256) {
  const batch = corpus.slice(i, i + 256).map((doc) => (doc.title ? `${doc.title} ${doc.text}` : doc.text));
  docVectors.set(await embedder.embed(batch), i * embedder.dims);
  process.stderr.write(`\r${Math.min(i + 256, corpus.length)}/${corpus.length} passages`);
}
process.stderr.write('\n');
const judged = queries.filter((q) => relevant.has(q._id));
const queryVectors = await embedder.embed(
  judged.map((q) => q.text),
  { kind: 'query' },
);
let mrr = 0;
let recall = 0;
judged.forEach((query, qi) => {
  const q = queryVectors.subarray(qi * embedder.dims, (qi + 1) * embedder.dims);
  const scores = corpus.map((doc, di) => {
    let s = 0;
    for (let j = 0; j < embedder.dims; j++) s += q[j] * docVectors[di * embedder.dims + j];
    return [s, doc._id];
  });
  const top = scores
    .sort((a, b) => b[0] - a[0])
    .slice(0, 10)
    .map(([, id]) => id);
  const rel = relevant.get(query._id);
  const rank = top.findIndex((id) => rel.has(id));
  if (rank >= 0) mrr += 1 / (rank + 1);
  recall += top.filter((id) => rel.has(id)).length / rel.size;
});
console.log(
  JSON.stringify({
    queries: judged.length,
    mrrAt10: +(mrr / judged.length).toFixed(4),
    recallAt10: +(recall / judged.length).toFixed(4),
    expected: { mrrAt10: 0.573, recallAt10: 0.182 },
    seconds: +((performance.now() - started) / 1000).toFixed(1),
    cache: embedder.cacheStats?.(),
  }),
);
await embedder.dispose();
