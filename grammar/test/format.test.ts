// Tests of format(): canonical output, and the round trip parse(format(ast)) == ast on generated ASTs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { format, parse } from '../src/index.js';
import type {
  Edit,
  FeatureReference,
  FilterExpression,
  OptionSetting,
  Pragma,
  PresetDefinition,
  Query,
  Range,
  Statement,
  Steer,
  SteerFile,
  TextTerm,
} from '../src/index.js';
import { stripRanges } from './support/strip-ranges.js';

const range: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
const KEYWORDS = ['where', 'and', 'or', 'not', 'preset', 'true', 'false'];

const identifier = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}$/)
  .filter((s) => !KEYWORDS.includes(s.toLowerCase()) && !/^f[0-9]+$/.test(s));
const tricky = fc.constantFrom('a', 'Z', '"', '\\', '\n', '\t', '\r', ' ', '#', ';', '@', 'é', '𝄞', '\u2028');
const text = fc.oneof(
  fc.string({ maxLength: 12, unit: 'grapheme' }),
  fc.string({ maxLength: 12, unit: tricky }),
);
const positive = fc
  .double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true })
  .map((v) => (v === 0 ? 0 : v));
const signed = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });

const textTerm: fc.Arbitrary<TextTerm> = fc.record(
  { kind: fc.constant('text' as const), text, weight: signed, range: fc.constant(range) },
  { requiredKeys: ['kind', 'text', 'range'] },
);

const featureRef: fc.Arbitrary<FeatureReference> = fc.oneof(
  fc.record({ kind: fc.constant('feature-id' as const), id: fc.nat(), range: fc.constant(range) }),
  fc.record({
    kind: fc.constant('alias' as const),
    name: fc.string({
      minLength: 1,
      maxLength: 12,
      unit: fc.oneof(tricky, fc.string({ minLength: 1, maxLength: 1 })),
    }),
    range: fc.constant(range),
  }),
  fc.record(
    {
      kind: fc.constant('concept' as const),
      text,
      count: fc.integer({ min: 1, max: 50 }),
      range: fc.constant(range),
    },
    { requiredKeys: ['kind', 'text', 'range'] },
  ),
);

const edit: fc.Arbitrary<Edit> = fc.record(
  {
    kind: fc.constant('edit' as const),
    op: fc.constantFrom('amplify' as const, 'suppress' as const, 'set' as const),
    target: featureRef,
    strength: fc.record({
      kind: fc.constant('strength' as const),
      value: positive,
      unit: fc.constantFrom('absolute' as const, 'relative' as const),
      range: fc.constant(range),
    }),
    range: fc.constant(range),
  },
  { requiredKeys: ['kind', 'op', 'target', 'range'] },
);

const steer: fc.Arbitrary<Steer> = fc.oneof(
  edit,
  fc.record({
    kind: fc.constant('preset-ref' as const),
    name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,8}$/),
    range: fc.constant(range),
  }),
);

const option: fc.Arbitrary<OptionSetting> = fc.oneof(
  fc.record({
    kind: fc.constant('option' as const),
    key: fc.constantFrom('k', 'candidates'),
    value: fc.integer({ min: 1, max: 10000 }),
    range: fc.constant(range),
  }),
  fc.record({
    kind: fc.constant('option' as const),
    key: fc.constant('mode'),
    value: fc.constantFrom('dense', 'sparse', 'hybrid'),
    range: fc.constant(range),
  }),
  fc.record({
    kind: fc.constant('option' as const),
    key: fc.constant('steer'),
    value: fc.constantFrom('residual', 'reconstructed'),
    range: fc.constant(range),
  }),
  fc.record({
    kind: fc.constant('option' as const),
    key: fc.constant('code'),
    value: fc.constantFrom('auto', 'encoder', 'pursuit'),
    range: fc.constant(range),
  }),
  fc.record({
    kind: fc.constant('option' as const),
    key: fc.constant('index'),
    value: fc.string({ minLength: 1, maxLength: 10 }),
    range: fc.constant(range),
  }),
);

const field = fc.oneof(identifier, fc.string({ maxLength: 8 }));
const scalar = fc.oneof(text, signed, fc.boolean());
const { filter } = fc.letrec<{ filter: FilterExpression; leaf: FilterExpression }>((tie) => ({
  leaf: fc.oneof(
    fc.record({
      kind: fc.constant('compare' as const),
      field,
      op: fc.constantFrom(':' as const, '!=' as const),
      value: scalar,
      range: fc.constant(range),
    }),
    fc.record({
      kind: fc.constant('compare' as const),
      field,
      op: fc.constantFrom('>' as const, '>=' as const, '<' as const, '<=' as const),
      value: signed,
      range: fc.constant(range),
    }),
    fc.record({
      kind: fc.constant('in' as const),
      field,
      values: fc.array(fc.oneof(text, signed), { minLength: 1, maxLength: 4 }),
      range: fc.constant(range),
    }),
    fc.record({
      kind: fc.constant('between' as const),
      field,
      from: signed,
      to: signed,
      range: fc.constant(range),
    }),
  ),
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.record({ kind: fc.constant('not' as const), operand: tie('filter'), range: fc.constant(range) }),
    fc.record({
      kind: fc.constant('and' as const),
      operands: fc.array(
        tie('filter').filter((f) => f.kind !== 'and'),
        { minLength: 2, maxLength: 3 },
      ),
      range: fc.constant(range),
    }),
    fc.record({
      kind: fc.constant('or' as const),
      operands: fc.array(
        tie('filter').filter((f) => f.kind !== 'or'),
        { minLength: 2, maxLength: 3 },
      ),
      range: fc.constant(range),
    }),
  ),
}));

const query: fc.Arbitrary<Query> = fc.record(
  {
    kind: fc.constant('query' as const),
    texts: fc.array(textTerm, { minLength: 1, maxLength: 3 }),
    steers: fc.array(steer, { maxLength: 4 }),
    options: fc.array(option, { maxLength: 3 }),
    where: filter,
    range: fc.constant(range),
  },
  { requiredKeys: ['kind', 'texts', 'steers', 'options', 'range'] },
);

const presetDefinition: fc.Arbitrary<PresetDefinition> = fc.record({
  kind: fc.constant('preset-definition' as const),
  name: identifier,
  nameRange: fc.constant(range),
  steers: fc.array(steer, { maxLength: 4 }),
  range: fc.constant(range),
});

const pragma: fc.Arbitrary<Pragma> = fc.record({
  kind: fc.constant('pragma' as const),
  key: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,6}$/),
  value: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  range: fc.constant(range),
});

const file: fc.Arbitrary<SteerFile> = fc.record({
  kind: fc.constant('file' as const),
  header: fc.array(pragma, { maxLength: 2 }),
  statements: fc.array(fc.oneof(query, presetDefinition) as fc.Arbitrary<Statement>, {
    minLength: 1,
    maxLength: 3,
  }),
  range: fc.constant(range),
});

describe('format', () => {
  test('prints items in canonical order, one statement per line', () => {
    const { ast } = parse('"a" where lang:en k=3 +f1 "b"^2 $p; preset p = f2*2x');
    assert.equal(format(ast), '"a" "b"^2 +f1 $p k=3 where lang:en\npreset p = +f2*2x\n');
  });

  test('adds only the parentheses the filter needs', () => {
    const { ast } = parse('"a" where (a:1 and b:2) or not (c:3 or d:4) and ((e:5))');
    assert.equal(format(ast), '"a" where a:1 and b:2 or not (c:3 or d:4) and e:5\n');
  });

  test('quotes names that would not lex back as names', () => {
    const { ast } = parse('"a" @"two words" index="my index" where "and":"x y" and f1:f2');
    assert.equal(format(ast), '"a" +@"two words" index="my index" where "and":"x y" and f1:f2\n');
  });

  test('round trip: parse(format(ast)) gives the same AST for generated documents', () => {
    fc.assert(
      fc.property(file, (ast) => {
        const printed = format(ast);
        const reparsed = parse(printed);
        assert.deepEqual(
          reparsed.errors.filter(
            (e) =>
              e.code.startsWith('unexpected') ||
              e.code === 'mismatched-token' ||
              e.code.startsWith('no-viable'),
          ),
          [],
          printed,
        );
        assert.deepEqual(stripRanges(reparsed.ast), stripRanges(ast), printed);
        assert.equal(format(reparsed.ast), printed);
      }),
      { numRuns: 300 },
    );
  });
});
