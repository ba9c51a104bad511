// Inlay hints: the alias or label of each raw feature id, placed after the id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createInlayHintsProvider, EMPTY_CONTEXT } from '../src/index.js';
import { testProject } from './support/project.js';

test('raw ids get their alias as a hint; aliases and unknown ids get none', async () => {
  const { context, fixture } = await testProject();
  const text = `"x" +f${fixture.topics.medicine}*0.5 -@cooking +f${fixture.nLatents + 3}`;
  const document = TextDocument.create('file:///h.steer', 'steer', 1, text);
  const whole = { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } };
  const hints = createInlayHintsProvider().hints(document, whole, context);
  assert.equal(hints.length, 1);
  assert.equal(hints[0]!.label, 'medicine');
  assert.deepEqual(hints[0]!.position, { line: 0, character: 5 + `f${fixture.topics.medicine}`.length });
  assert.deepEqual(createInlayHintsProvider().hints(document, whole, EMPTY_CONTEXT), []);
});
