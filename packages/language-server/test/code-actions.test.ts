// Quick fixes: did-you-mean for aliases and presets, ids for ambiguous aliases, id -> alias rewrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction } from 'vscode-languageserver';
import {
  closestNames,
  createCodeActionProvider,
  createDiagnosticsProvider,
  type DocumentContext,
} from '../src/index.js';
import { testProject } from './support/project.js';

async function actionsFor(
  text: string,
  context: DocumentContext,
): Promise<{ document: TextDocument; actions: CodeAction[] }> {
  const document = TextDocument.create('file:///fix.steer', 'steer', 1, text);
  const diagnostics = await createDiagnosticsProvider().diagnose(document, context);
  const whole = { start: { line: 0, character: 0 }, end: document.positionAt(text.length) };
  return {
    document,
    actions: await createCodeActionProvider().actions(document, whole, diagnostics, context),
  };
}

function apply(document: TextDocument, action: CodeAction): string {
  const edits = action.edit!.changes![document.uri]!;
  return TextDocument.applyEdits(document, edits);
}

test('an unknown alias gets did-you-mean fixes by edit distance, which apply cleanly', async () => {
  const { context, fixture } = await testProject();
  const { document, actions } = await actionsFor('"jobs" +@lerning*0.5', context);
  const fix = actions.find((a) => a.title === `Did you mean @learning (f${fixture.topics.learning})?`);
  assert.ok(fix, actions.map((a) => a.title).join('\n'));
  assert.equal(fix.kind, 'quickfix');
  assert.equal(fix.diagnostics?.[0]?.code, 'unknown-alias');
  assert.equal(apply(document, fix), '"jobs" +@learning*0.5');
});

test('an unknown preset gets the closest saved or local preset', async () => {
  const { context } = await testProject();
  const { document, actions } = await actionsFor('"x" $job', context);
  const fix = actions.find((a) => a.title === 'Did you mean $jobs?');
  assert.ok(fix, actions.map((a) => a.title).join('\n'));
  assert.equal(apply(document, fix), '"x" $jobs');
});

test('a raw id with an alias can be rewritten to the alias', async () => {
  const { context, fixture } = await testProject();
  const { document, actions } = await actionsFor(`"x" -f${fixture.topics.cooking}`, context);
  const rewrite = actions.find((a) => a.kind === 'refactor.rewrite');
  assert.ok(rewrite);
  assert.equal(apply(document, rewrite), '"x" -@cooking');
});

test('closestNames ranks by edit distance and ignores names that are too far', () => {
  assert.deepEqual(closestNames('lerning', ['learning', 'earning', 'cooking']), ['learning', 'earning']);
  assert.deepEqual(closestNames('xyz', ['learning']), []);
});
