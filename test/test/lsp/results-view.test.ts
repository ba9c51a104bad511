// The extension's webviews, rendered from real-shaped server answers: steered and unsteered results side by
// side with rank changes and top features, and a feature explanation; everything from the server escaped.
// NOTE: extension/src/results-view.ts is bundled with esbuild (as the extension build does) and imported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExplainFeatureResult, RunQueryResult } from '@steer/language-server/protocol';
import { repoRoot } from '../../src/run-cli.js';

interface ResultsView {
  renderResultsHtml(result: RunQueryResult, cspSource: string): string;
  renderFeatureHtml(feature: ExplainFeatureResult, cspSource: string): string;
}

async function loadView(): Promise<ResultsView> {
  const esbuild = (await import('esbuild')) as { build(options: object): Promise<unknown> };
  const outfile = join(await mkdtemp(join(tmpdir(), 'steer-view-')), 'results-view.mjs');
  await esbuild.build({
    entryPoints: [join(repoRoot, 'extension', 'src', 'results-view.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    logLevel: 'warning',
  });
  return (await import(pathToFileURL(outfile).href)) as ResultsView;
}

const result: RunQueryResult = {
  query: '"jobs" -@career +f2*2x',
  index: 'default',
  backend: 'lancedb',
  k: 3,
  edits: [
    { feature: 1, label: 'career', op: 'zero', value: 0 },
    { feature: 2, op: 'add', value: 0.27 },
  ],
  steered: [
    {
      id: 'cooking-1',
      score: 0.9,
      rank: 1,
      text: 'Knead the <dough>',
      otherRank: null,
      moved: null,
      features: [{ feature: 2, label: 'cooking', contribution: 0.5 }],
    },
    { id: 'career-3', score: 0.8, rank: 2, text: 'Job interviews', otherRank: 1, moved: -1, features: [] },
    { id: 'learning-2', score: 0.7, rank: 3, text: 'Online courses', otherRank: 3, moved: 0, features: [] },
  ],
  unsteered: [
    { id: 'career-3', score: 0.95, rank: 1, text: 'Job interviews', otherRank: 2, features: [] },
    { id: 'career-1', score: 0.9, rank: 2, text: 'Recruiters', otherRank: null, features: [] },
    { id: 'learning-2', score: 0.8, rank: 3, text: 'Online courses', otherRank: 3, features: [] },
  ],
  warnings: ['f2 has no typical activation'],
};

test('the results view shows both lists side by side with rank changes, features and escaped text', async () => {
  const view = await loadView();
  const html = view.renderResultsHtml(result, 'vscode-resource:');
  const steered = html.indexOf('<h3>Steered</h3>');
  const unsteered = html.indexOf('<h3>Unsteered</h3>');
  assert.ok(steered > 0 && unsteered > steered, 'two columns, steered first');
  const steeredColumn = html.slice(steered, unsteered);
  assert.match(steeredColumn, /cooking-1<\/span> · 0\.9000 <span class="new">new<\/span>/);
  assert.match(steeredColumn, /career-3<\/span> · 0\.8000 <span class="down">▼1<\/span>/);
  assert.match(steeredColumn, /learning-2<\/span> · 0\.7000 <span class="">=<\/span>/);
  assert.match(steeredColumn, /features: f2 cooking \(0\.500\)/);
  assert.match(html.slice(unsteered), /career-1<\/span> · 0\.9000 <span class="down">dropped<\/span>/);
  assert.ok(html.includes('Knead the &lt;dough&gt;') && !html.includes('<dough>'), 'server text is escaped');
  assert.ok(html.includes('f1 (career) zero'));
  assert.ok(html.includes('f2 has no typical activation'));
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
});

test('the feature view shows label, aliases, statistics and top documents', async () => {
  const view = await loadView();
  const html = view.renderFeatureHtml(
    {
      feature: 7,
      label: 'salary, job',
      keywords: ['salary', 'job'],
      aliases: ['career'],
      stats: { count: 6, frequency: 0.2, meanActivation: 0.4, p99Activation: 0.6, typicalActivation: 0.35 },
      topDocuments: [{ id: 'career-0', activation: 0.61, snippet: 'Negotiating your salary' }],
      markdown: '',
    },
    'vscode-resource:',
  );
  assert.ok(html.includes('<h2>f7 — salary, job</h2>'));
  assert.ok(html.includes('<code>@career</code>'));
  assert.ok(html.includes('active in 6 documents (20.00%)'));
  assert.ok(html.includes('career-0</span> · 0.610<br>Negotiating your salary'));
});
