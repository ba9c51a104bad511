// `steer lsp --stdio` driven over stdio by a raw JSON-RPC client: diagnostics, completion, hover, the custom
// steer/runQuery and steer/explainFeature requests, and a reload when steer.config.json changes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunQueryResult, ExplainFeatureResult } from '@steer/language-server/protocol';
import { createFixtureProject, type FixtureProject } from '@steer/language-server/testing';
import { LspClient } from '../../src/lsp-client.js';

interface PublishedDiagnostics {
  uri: string;
  diagnostics: Array<{
    code: string;
    message: string;
    range: { start: { line: number; character: number } };
  }>;
}

let fixture: FixtureProject;
let client: LspClient;
let uri: string;
let text: string;

before(async () => {
  fixture = await createFixtureProject({ index: true });
  text = [
    'preset mine = +@learning*0.5',
    '"how students learn" +@lea',
    '"teacher and lessons" +@lerning $mine',
    `"salary negotiation" -@career +f${fixture.topics.cooking}*2x k=6`,
  ].join('\n');
  const path = join(fixture.root, 'queries.steer');
  await writeFile(path, text);
  uri = pathToFileURL(path).href;
  client = LspClient.start(fixture.root);
  await client.request('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(fixture.root).href,
    capabilities: {},
  });
  client.notify('initialized', {});
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'steer', version: 1, text } });
});

after(async () => {
  client?.kill();
  await fixture?.dispose();
});

test('diagnostics arrive for the opened document, with codes from the compiler', async () => {
  const published = await client.waitFor<PublishedDiagnostics>(
    'textDocument/publishDiagnostics',
    (p) => p.uri === uri,
  );
  assert.deepEqual(
    published.diagnostics.map((d) => `${d.range.start.line}:${d.code}`),
    ['1:unknown-alias', '2:unknown-alias'],
  );
});

test('completion and hover answer over the protocol', async () => {
  const completion = await client.request<{ label: string }[] | { items: { label: string }[] }>(
    'textDocument/completion',
    {
      textDocument: { uri },
      position: { line: 1, character: '"how students learn" +@lea'.length },
    },
  );
  const items = Array.isArray(completion) ? completion : completion.items;
  assert.ok(
    items.some((i) => i.label === 'learning'),
    items.map((i) => i.label).join(', '),
  );
  const hover = await client.request<{ contents: { value: string } }>('textDocument/hover', {
    textDocument: { uri },
    position: { line: 3, character: text.split('\n')[3]!.indexOf('+f') + 2 },
  });
  assert.match(hover.contents.value, new RegExp(`\\*\\*f${fixture.topics.cooking}\\*\\*`));
  assert.match(hover.contents.value, /top documents:/);
});

test('steer/runQuery returns steered and unsteered hits with rank changes and top features', async () => {
  const result = await client.request<RunQueryResult>('steer/runQuery', {
    uri,
    position: { line: 3, character: 0 },
  });
  assert.equal(result.backend, 'lancedb');
  assert.equal(result.steered.length, 6);
  assert.equal(result.unsteered.length, 6);
  const cooking = (hits: RunQueryResult['steered']) => hits.filter((h) => h.id.startsWith('cooking-')).length;
  const career = (hits: RunQueryResult['steered']) => hits.filter((h) => h.id.startsWith('career-')).length;
  assert.ok(
    cooking(result.steered) > cooking(result.unsteered),
    JSON.stringify(result.steered.map((h) => h.id)),
  );
  assert.ok(career(result.steered) < career(result.unsteered));
  for (const hit of result.steered) {
    const moved = hit.otherRank === null ? null : hit.otherRank - hit.rank;
    assert.equal(hit.moved, moved);
  }
  assert.ok(
    result.steered.some((h) => h.features.length > 0),
    'hits are explained by features',
  );
  assert.deepEqual(
    result.edits.map((e) => [e.feature, e.op]),
    [
      [fixture.topics.career, 'zero'],
      [fixture.topics.cooking, 'add'],
    ],
  );
});

test('steer/explainFeature describes the feature under the cursor', async () => {
  const result = await client.request<ExplainFeatureResult>('steer/explainFeature', {
    uri,
    position: { line: 0, character: 17 },
  });
  assert.equal(result.feature, fixture.topics.learning);
  assert.ok(result.aliases.includes('learning'));
  assert.ok(result.topDocuments[0]!.id.startsWith('learning-'));
  await assert.rejects(
    client.request('steer/explainFeature', { uri, position: { line: 1, character: 1 } }),
    /no feature at the cursor/,
  );
});

test('the server reloads steer.config.json when it changes on disk', async () => {
  const original = await readFile(fixture.configFile, 'utf8');
  let mark = client.notifications.length;
  await writeFile(fixture.configFile, '{"sae": 12}');
  const broken = await client.waitFor<PublishedDiagnostics>(
    'textDocument/publishDiagnostics',
    (p) => p.uri === uri && p.diagnostics.some((d) => d.code === 'config-invalid'),
    mark,
  );
  assert.match(
    broken.diagnostics.find((d) => d.code === 'config-invalid')!.message,
    /'sae' .* must be a string/,
  );
  mark = client.notifications.length;
  await writeFile(fixture.configFile, original);
  await client.waitFor<PublishedDiagnostics>(
    'textDocument/publishDiagnostics',
    (p) =>
      p.uri === uri && p.diagnostics.length === 2 && p.diagnostics.every((d) => d.code === 'unknown-alias'),
    mark,
  );
});

test('shutdown then exit ends the server with code 0', async () => {
  assert.equal(await client.stop(), 0);
});
