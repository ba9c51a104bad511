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

test("strengths show their latent units for the query's own code, absolute ones their multiple of 1x", async () => {
  const { context, fixture } = await testProject();
  const query = 'the telescope saw a comet';
  const text = `"${query}" +@astronomy*2x -@cooking*0.5`;
  const document = TextDocument.create('file:///s.steer', 'steer', 1, text);
  const hints = await createInlayHintsProvider().hints(document, whole, context);
  // Independent reference: 1x = the catalog's calibration scale x |h| of the query's SAE code.
  const scale = fixture.catalog.strengthCalibration()!.scale;
  const sae = await loadSae(fixture.saeDir);
  const norm = latentNorm(await sae.encode(await fixture.embedder.embed([query], { kind: 'query' }), 1));
  await sae.dispose();
  const unit = scale * norm;
  const round = (v: number) => String(Math.round(v * 1000) / 1000);
  assert.deepEqual(
    hints.map((h) => [h.label, h.position.character]),
    [
      [`= ${round(2 * unit)}`, text.indexOf('2x') + 2],
      [`≈ ${round(0.5 / unit)}x`, text.length],
    ],
  );
  assert.match(String(hints[0]!.tooltip), /of this query/);
});
