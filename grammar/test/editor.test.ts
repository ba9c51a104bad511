// Tests of the editor helpers: token and node under the cursor, and completion expectations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expectedAt, nodeAt, parse, tokenAt } from '../src/index.js';

/** Splits `text` at the `<|>` cursor marker into the text and the cursor position. */
function cursor(marked: string): { text: string; position: { line: number; character: number } } {
  const index = marked.indexOf('<|>');
  const before = marked.slice(0, index).split('\n');
  return {
    text: marked.replace('<|>', ''),
    position: { line: before.length - 1, character: before[before.length - 1]!.length },
  };
}

describe('tokenAt', () => {
  test('finds the token being typed, also at its end', () => {
    const { text, position } = cursor('"jobs" +@lea<|>');
    assert.deepEqual(tokenAt(text, position), {
      kind: 'AliasRef',
      image: '@lea',
      range: { start: { line: 0, character: 8 }, end: { line: 0, character: 12 } },
    });
  });

  test('is undefined in comments and after the last token', () => {
    assert.equal(tokenAt('"a" # note', { line: 0, character: 8 }), undefined);
    assert.equal(tokenAt('"a"   ', { line: 0, character: 5 }), undefined);
  });
});

describe('nodeAt', () => {
  test('returns the innermost node', () => {
    const { ast } = parse('"jobs" +f12*0.5\n"x" where lang:en');
    assert.equal(nodeAt(ast, { line: 0, character: 9 })?.kind, 'feature-id');
    assert.equal(nodeAt(ast, { line: 0, character: 13 })?.kind, 'strength');
    assert.equal(nodeAt(ast, { line: 0, character: 7 })?.kind, 'edit');
    assert.equal(nodeAt(ast, { line: 1, character: 12 })?.kind, 'compare');
  });

  test('works on the AST of half-typed input', () => {
    const { ast } = parse('"jobs" +@learning*');
    assert.equal(nodeAt(ast, { line: 0, character: 10 })?.kind, 'alias');
  });
});

describe('expectedAt', () => {
  test('after an operator: feature references', () => {
    const { text, position } = cursor('"jobs" +<|>');
    const expected = expectedAt(text, position);
    assert.equal(expected.prefix, '');
    assert.deepEqual(expected.tokenKinds.sort(), ['AliasRef', 'At', 'FeatureId', 'Tilde']);
  });

  test('inside a partial alias: the prefix and its range', () => {
    const { text, position } = cursor('"jobs" +@lea<|>');
    const expected = expectedAt(text, position);
    assert.equal(expected.prefix, '@lea');
    assert.deepEqual(expected.prefixRange, {
      start: { line: 0, character: 8 },
      end: { line: 0, character: 12 },
    });
    assert.ok(expected.tokenKinds.includes('AliasRef'));
  });

  test('after a complete item: any item, or where', () => {
    const { text, position } = cursor('"a"\n"jobs" +f1 <|>');
    const kinds = expectedAt(text, position).tokenKinds;
    for (const kind of ['StringLiteral', 'Plus', 'Minus', 'PresetRef', 'Where', 'Star'])
      assert.ok(kinds.includes(kind), kind);
  });

  test('inside a filter: connectives', () => {
    const { text, position } = cursor('"a" where lang:en <|>');
    const kinds = expectedAt(text, position).tokenKinds;
    assert.ok(kinds.includes('And') && kinds.includes('Or'));
  });
});
