// Inlay hints: the alias or label of each raw feature id, placed after the id; what each strength means for its
// query, placed after the strength.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { latentNorm, loadSae } from '@steer/sae';
import { createInlayHintsProvider, EMPTY_CONTEXT } from '../src/index.js';
import { testProject } from './support/project.js';

const whole = { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } };

test('raw ids get their alias as a hint; aliases and unknown ids get none', async () => {
  const { context, fixture } = await testProject();
  const text = `"x" +f${fixture.topics.medicine} -@cooking +f${fixture.nLatents + 3}`;
  const document = TextDocument.create('file:///h.steer', 'steer', 1, text);
  const hints = await createInlayHintsProvider().hints(document, whole, context);
  assert.equal(hints.length, 1);
  assert.equal(hints[0]!.label, 'medicine');
  assert.deepEqual(hints[0]!.position, { line: 0, character: 5 + `f${fixture.topics.medicine}`.length });
  assert.deepEqual(await createInlayHintsProvider().hints(document, whole, EMPTY_CONTEXT), []);
});

test('strengths show their latent units for the query, absolute ones their multiple of 1x', async () => {
  const { context, fixture } = await testProject();
  const query = 'the telescope saw a comet';
  const text = `"${query}" +@astronomy*2x -@cooking*0.5`;
  const document = TextDocument.create('file:///s.steer', 'steer', 1, text);
  const hints = await createInlayHintsProvider().hints(document, whole, context);
  // Independent reference for the subtraction: 1x = the catalog's calibration scale x |h| of the query's SAE code.
  const scale = fixture.catalog.strengthCalibration()!.scale;
  const sae = await loadSae(fixture.saeDir);
  const x = await fixture.embedder.embed([query], { kind: 'query' });
  const norm = latentNorm(await sae.encode(x, 1));
  // ... and for the amplify, its crossover computed in float over the corpus (the catalog's pool, in int8): the
  // strength along the astronomy column where that column's top 10 documents score as high as the query's.
  const column = sae.decoderDirection(fixture.topics.astronomy!);
  await sae.dispose();
  const docs = await fixture.embedder.embed(
    fixture.documents.map((d) => d.text),
    { kind: 'document' },
  );
  const d = x.length;
  const dot = (r: number, v: Float32Array) => v.reduce((a, value, i) => a + value * docs[r * d + i]!, 0);
  const rows = fixture.documents.map((_, r) => r);
  const top = (v: Float32Array) => [...rows].sort((a, b) => dot(b, v) - dot(a, v)).slice(0, 10);
  const mean = (set: number[], v: Float32Array) => set.reduce((a, r) => a + dot(r, v), 0) / set.length;
  const [queryTop, columnTop] = [top(x), top(column)];
  const crossover =
    (mean(queryTop, x) - mean(columnTop, x)) / (mean(columnTop, column) - mean(queryTop, column));
  const unit = scale * norm;
  const round = (v: number) => String(Math.round(v * 1000) / 1000);
  assert.deepEqual(
    hints.map((h) => h.position.character),
    [text.indexOf('2x') + 2, text.length],
  );
  const amplified = Number(String(hints[0]!.label).replace('= ', ''));
  assert.ok(
    Math.abs(amplified - 2 * crossover) < 0.03 * 2 * crossover,
    `hint ${amplified}, float reference ${2 * crossover}`,
  );
  assert.equal(hints[1]!.label, `≈ ${round(0.5 / unit)}x`);
  assert.match(String(hints[0]!.tooltip), /where this query's top results and the edited feature's meet/);
});
