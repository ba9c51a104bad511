// Completion on text with a cursor marker, against a real catalog built for a fixture SAE, and against a small
// in-memory catalog whose labels collide and include stop words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Catalog, LabelRecord } from '@steer/catalog';
import type { CompletionItem } from 'vscode-languageserver';
import type { DocumentContext, LspCatalog } from '../src/index.js';
import { createCompletionProvider } from '../src/index.js';
import { documentWithCursor, expectCompletion, inMemoryCatalog } from '../src/testing/index.js';
import { testProject } from './support/project.js';

function newText(item: CompletionItem | undefined): string | undefined {
  return item?.textEdit && 'range' in item.textEdit ? item.textEdit.newText : undefined;
}

/** A real Catalog held in memory with these labels (some shared, some of stop words) and aliases. */
function labelledCatalog(labels: string[], aliases: Record<string, number> = {}): Catalog {
  const records: LabelRecord[] = labels.map((label, id) => {
    const keywords = label.split(', ');
    return { id, label, keywords, keywordZ: keywords.map(() => 2) };
  });
  return inMemoryCatalog({
    nLatents: labels.length,
    labels: records,
    aliases: new Map(Object.entries(aliases)),
  });
}

async function complete(textWithCursor: string, context: DocumentContext): Promise<CompletionItem[]> {
  const { document, position } = documentWithCursor(textWithCursor);
  return (await createCompletionProvider().complete(document, position, context)).items;
}

test('+@lea completes the feature whose alias starts with the typed name, with id, frequency and a snippet', async () => {
  const { context, fixture } = await testProject();
  const items = await expectCompletion(
    '"jobs" +@lea<|>',
    { includes: ['learning'], first: 'learning' },
    context,
  );
  const item = items.find((i) => i.label === 'learning')!;
  assert.match(item.detail ?? '', new RegExp(`^f${fixture.topics.learning} · [0-9.]+% of docs$`));
  assert.equal(newText(item), '@learning');
  assert.equal(item.documentation, undefined, 'documentation comes with completionItem/resolve');
  const resolved = await createCompletionProvider().resolve(item, context);
  const doc = typeof resolved.documentation === 'object' ? resolved.documentation.value : '';
  assert.match(doc, new RegExp(`^\\*\\*f${fixture.topics.learning}\\*\\*`));
  assert.ok(doc.includes('> '), `documentation has a top-document snippet: ${doc}`);
});

test('a picked feature inserts a reference that names it alone: its unique alias, else its id', async () => {
  const catalog = labelledCatalog(
    ['learning', 'learning, home, work', 'learning, jobs, school', 'curiosity, growth, reading'],
    { growth: 3 },
  );
  const context: DocumentContext = { catalog: catalog as LspCatalog, problems: [] };
  const items = await complete('"x" +@lear<|>', context);
  assert.deepEqual(
    items.map((i) => [i.label, newText(i)]),
    [
      ['learning', 'f0'],
      ['learning, home, work', 'f1'],
      ['learning, jobs, school', 'f2'],
    ],
    '@learning would name f0, f1 and f2 (label and first keyword), so each item writes its id',
  );
  assert.equal(items[1]!.labelDetails?.description, 'f1');
  for (const item of items) {
    assert.equal(item.filterText, '@lear', 'the client keeps every item for what was typed');
    const range = item.textEdit && 'range' in item.textEdit ? item.textEdit.range : undefined;
    assert.deepEqual(range?.start, { line: 0, character: 5 }, 'the @ and the typed name are replaced');
  }
  const aliased = await complete('"x" +@gro<|>', context);
  assert.deepEqual(
    aliased.map((i) => [i.label, newText(i), i.labelDetails?.description]),
    [['growth', '@growth', 'curiosity, growth, reading']],
  );
});

test('labels made of stop words (any language) rank below labels made of content words', async () => {
  const catalog = labelledCatalog([
    'die, und, der, den',
    'diet, protein, food',
    'the, and, diesel',
    'dinner, recipes',
  ]);
  const context: DocumentContext = { catalog: catalog as LspCatalog, problems: [] };
  const items = await complete('"x" +@di<|>', context);
  assert.deepEqual(
    items.map((i) => i.label),
    ['diet, protein, food', 'dinner, recipes', 'die, und, der, den', 'the, and, diesel'],
  );
});

test('while the embedder loads, completion answers from labels and asks to be asked again', async () => {
  const catalog = labelledCatalog(['learning, home, work', 'salary, jobs']);
  let searched = false;
  const context: DocumentContext = {
    catalog: Object.assign(Object.create(catalog) as Catalog, {
      searchFeatures: async () => {
        searched = true;
        return [];
      },
    }) as LspCatalog,
    problems: [],
    conceptSearchReady: () => false,
  };
  const { document, position } = documentWithCursor('"x" +@lear<|>');
  const result = await createCompletionProvider().complete(document, position, context);
  assert.equal(result.isIncomplete, true);
  assert.deepEqual(
    result.items.map((i) => i.label),
    ['learning, home, work'],
  );
  assert.equal(searched, false, 'concept search is not awaited before it is ready');
});

test('+@ with a concept ranks features by concept search (semantic, not only prefix)', async () => {
  const { context } = await testProject();
  const items = await expectCompletion('"x" +@telescope<|>', { includes: ['astronomy'] }, context);
  assert.equal(items[0]!.label, 'astronomy', items.map((i) => i.label).join(', '));
});

test('~"career gro completes features by concept; the pick replaces the concept with the feature it names', async () => {
  const { context, fixture } = await testProject();
  const items = await expectCompletion('"x" +~"salary and promot<|>', { includes: [] }, context);
  assert.ok(items.length > 0);
  const top = items[0]!;
  assert.equal(top.data.feature, fixture.topics.career, items.map((i) => i.label).join(', '));
  assert.equal(newText(top), '@career');
  const range = top.textEdit && 'range' in top.textEdit ? top.textEdit.range : undefined;
  assert.deepEqual(range, { start: { line: 0, character: 5 }, end: { line: 0, character: 24 } });
  assert.equal(top.filterText, '~"salary and promot');
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
  await expectCompletion('"x" <|>', { includes: ['code='] });
  await expectCompletion('"x" code=<|>', {
    includes: ['auto', 'encoder', 'pursuit'],
    excludes: ['residual'],
  });
  await expectCompletion('"x" where lang:en <|>', { includes: ['and', 'or'] });
});

test('without a catalog, feature completion is empty rather than failing', async () => {
  await expectCompletion('"jobs" +@lea<|>', { excludes: ['learning'] });
});
