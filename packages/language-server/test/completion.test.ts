// Completion on text with a cursor marker, against a real catalog built for a fixture SAE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectCompletion } from '../src/testing/index.js';
import { testProject } from './support/project.js';

test('+@lea completes the feature whose alias starts with the typed name, with id and frequency', async () => {
  const { context, fixture } = await testProject();
  const items = await expectCompletion(
    '"jobs" +@lea<|>',
    { includes: ['learning'], first: 'learning' },
    context,
  );
  const item = items.find((i) => i.label === 'learning')!;
  assert.match(item.detail ?? '', new RegExp(`^f${fixture.topics.learning} · [0-9.]+% of docs$`));
  assert.deepEqual(
    item.textEdit && 'range' in item.textEdit ? item.textEdit.newText : undefined,
    '@learning',
  );
  const doc = typeof item.documentation === 'object' ? item.documentation.value : '';
  assert.ok(doc.includes('> '), `documentation has a top-document snippet: ${doc}`);
});

test('+@ with a concept ranks features by concept search (semantic, not only prefix)', async () => {
  const { context } = await testProject();
  const items = await expectCompletion('"x" +@telescope<|>', { includes: ['astronomy'] }, context);
  assert.equal(items[0]!.label, 'astronomy', items.map((i) => i.label).join(', '));
});

test('~"career gro completes inside a quoted concept and replaces the whole string', async () => {
  const { context } = await testProject();
  const items = await expectCompletion('"x" +~"salary and promot<|>', { includes: [] }, context);
  assert.ok(items.length > 0);
  const top = items[0]!;
  assert.equal(
    top.data.feature,
    (await testProject()).fixture.topics.career,
    items.map((i) => i.label).join(', '),
  );
  assert.ok(top.textEdit && 'range' in top.textEdit && top.textEdit.newText.startsWith('"'));
});

test('~"..." with an auto-closed quote still completes the concept', async () => {
  const { context, fixture } = await testProject();
  const items = await expectCompletion('"x" +~"bake bread<|>"', {}, context);
  assert.equal(items[0]?.data.feature, fixture.topics.cooking);
});

test('raw ids complete with their labels', async () => {
  const { context, fixture } = await testProject();
  const items = await expectCompletion('"x" +f<|>', {}, context);
  assert.equal(items.length, 0, 'f alone lists nothing');
  const withDigit = await expectCompletion(
    `"x" +f${fixture.topics.medicine}<|>`,
    { first: `f${fixture.topics.medicine}` },
    context,
  );
  assert.ok(withDigit[0]!.labelDetails?.description, 'the id shows its label');
});

test('presets complete after $: saved ones and the ones defined in the file', async () => {
  const { context } = await testProject();
  await expectCompletion('preset local = +@career\n"x" $<|>', { includes: ['$jobs', '$local'] }, context);
  await expectCompletion('"x" $jo<|>', { includes: ['$jobs'] }, context);
});

test('option keys and values complete; keywords follow the grammar', async () => {
  await expectCompletion('"x" <|>', { includes: ['k=', 'mode=', 'steer=', 'where'] });
  await expectCompletion('"x" mode=<|>', { includes: ['dense', 'sparse', 'hybrid'], excludes: ['k='] });
  await expectCompletion('"x" steer=re<|>', { includes: ['residual', 'reconstructed'] });
  await expectCompletion('"x" where lang:en <|>', { includes: ['and', 'or'] });
});

test('without a catalog, feature completion is empty rather than failing', async () => {
  await expectCompletion('"jobs" +@lea<|>', { excludes: ['learning'] });
});
