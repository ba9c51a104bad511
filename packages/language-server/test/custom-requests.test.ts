// The custom requests in-process: run a query steered and unsteered on an indexed fixture corpus, explain a
// feature, save a query's edits as a preset (validated against the catalog, written atomically).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createCustomRequestHandlers, type RequestServices } from '../src/index.js';
import { testProject } from './support/project.js';

const handlers = createCustomRequestHandlers();

async function services(): Promise<RequestServices> {
  const { workspace, uri } = await testProject({ index: true });
  const project = await workspace.projectFor(uri);
  return {
    context: () => project.context(),
    engine: () => project.engine(),
    presetsDir: async () => (await project.config()).presets,
  };
}

function doc(text: string): TextDocument {
  return TextDocument.create('file:///unused.steer', 'steer', 1, text);
}

test('runQuery moves the suppressed topic down and the amplified one up, with rank changes and features', async () => {
  const { fixture } = await testProject({ index: true });
  const text = `preset food = +f${fixture.topics.cooking}*2x\n"job interview and salary" -@career $food k=6`;
  const result = await handlers.runQuery(
    doc(text),
    { uri: 'file:///unused.steer', position: { line: 1, character: 3 } },
    await services(),
  );
  assert.equal(result.query, '"job interview and salary" -@career $food k=6');
  const count = (hits: typeof result.steered, topic: string) =>
    hits.filter((h) => h.id.startsWith(`${topic}-`)).length;
  assert.ok(count(result.unsteered, 'career') >= 3, JSON.stringify(result.unsteered.map((h) => h.id)));
  assert.ok(count(result.steered, 'career') < count(result.unsteered, 'career'));
  assert.ok(count(result.steered, 'cooking') > count(result.unsteered, 'cooking'));
  const top = result.steered[0]!;
  assert.equal(top.moved, top.otherRank === null ? null : top.otherRank - 1);
  assert.ok(
    result.steered.every((h) =>
      h.features.every((f, i, all) => i === 0 || all[i - 1]!.contribution >= f.contribution),
    ),
  );
});

test('runQuery on a preset line is refused with a message', async () => {
  await assert.rejects(
    handlers.runQuery(
      doc('preset p = +@career'),
      { uri: 'file:///unused.steer', position: { line: 0, character: 0 } },
      await services(),
    ),
    /holds no query/,
  );
});

test('explainFeature resolves ids, aliases and concepts at the cursor', async () => {
  const { fixture } = await testProject({ index: true });
  const s = await services();
  const text = `"x" +f${fixture.topics.medicine} -@astronomy +~"bread oven"`;
  const at = (needle: string) => ({ line: 0, character: text.indexOf(needle) + 2 });
  const uri = 'file:///unused.steer';
  assert.equal(
    (await handlers.explainFeature(doc(text), { uri, position: at('+f') }, s)).feature,
    fixture.topics.medicine,
  );
  assert.equal(
    (await handlers.explainFeature(doc(text), { uri, position: at('-@') }, s)).feature,
    fixture.topics.astronomy,
  );
  const concept = await handlers.explainFeature(doc(text), { uri, position: at('~"') }, s);
  assert.equal(concept.feature, fixture.topics.cooking);
  assert.match(concept.markdown, /top documents:/);
});

test('savePreset saves the query edits bound to the SAE; an existing name is not overwritten by default', async () => {
  const { fixture } = await testProject({ index: true });
  const s = await services();
  const text = '"jobs" +@learning*0.5 -@cooking k=3';
  const uri = 'file:///unused.steer';
  const saved = await handlers.savePreset(
    doc(text),
    { uri, name: 'study', position: { line: 0, character: 0 } },
    s,
  );
  assert.equal(saved.edits, '+@learning*0.5 -@cooking');
  assert.equal(saved.saeId, fixture.saeId);
  assert.match(
    await readFile(saved.path, 'utf8'),
    new RegExp(`# sae: ${fixture.saeId}[\\s\\S]*preset study = \\+@learning\\*0.5 -@cooking`),
  );
  await assert.rejects(
    handlers.savePreset(doc(text), { uri, name: 'study', position: { line: 0, character: 0 } }, s),
    /already exists/,
  );
  await assert.rejects(
    handlers.savePreset(doc('"only text"'), { uri, name: 'x', position: { line: 0, character: 0 } }, s),
    /no feature edits/,
  );
  await assert.rejects(
    handlers.savePreset(doc(text), { uri, name: 'bad', edits: '+@nosuch' }, s),
    /unknown feature alias/,
  );
});
