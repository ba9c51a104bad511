// Tests of parse(): constructs, diagnostics (codes, messages, ranges), recovery of half-typed input, and that
// parse never throws (fast-check over arbitrary strings).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse, type Edit, type Query } from '../src/index.js';

function onlyQuery(text: string): Query {
  const { ast, errors } = parse(text);
  assert.deepEqual(errors, [], `unexpected errors for ${text}`);
  assert.equal(ast.statements.length, 1);
  const statement = ast.statements[0]!;
  assert.equal(statement.kind, 'query');
  return statement;
}

describe('parse: constructs', () => {
  test('texts with and without weights', () => {
    const query = onlyQuery('"jobs" "skills"^0.5 "x"^-2');
    assert.deepEqual(
      query.texts.map((t) => [t.text, t.weight]),
      [
        ['jobs', undefined],
        ['skills', 0.5],
        ['x', -2],
      ],
    );
  });

  test('edits: operators, references and strengths', () => {
    const query = onlyQuery(
      '"q" +f12*0.5 -f13 -f14*0.2 =@learning*2x @"learning strategy" ~"career growth"/3',
    );
    const edits = query.steers as Edit[];
    assert.deepEqual(
      edits.map((e) => [e.op, e.target.kind, e.strength?.value, e.strength?.unit]),
      [
        ['amplify', 'feature-id', 0.5, 'absolute'],
        ['suppress', 'feature-id', undefined, undefined],
        ['suppress', 'feature-id', 0.2, 'absolute'],
        ['set', 'alias', 2, 'relative'],
        ['amplify', 'alias', undefined, undefined],
        ['amplify', 'concept', undefined, undefined],
      ],
    );
    assert.deepEqual(edits[4]!.target, {
      kind: 'alias',
      name: 'learning strategy',
      range: edits[4]!.target.range,
    });
    const concept = edits[5]!.target;
    assert.equal(concept.kind === 'concept' && concept.count, 3);
  });

  test('options and filter', () => {
    const query = onlyQuery(
      '"q" k=10 mode=hybrid where year>=2020 and (lang:en or lang:de) and tag:(a,b) and x:1..3',
    );
    assert.deepEqual(
      query.options.map((o) => [o.key, o.value]),
      [
        ['k', 10],
        ['mode', 'hybrid'],
      ],
    );
    assert.equal(query.where?.kind, 'and');
    assert.deepEqual(query.where?.kind === 'and' && query.where.operands.map((o) => o.kind), [
      'compare',
      'or',
      'in',
      'between',
    ]);
  });

  test('statements split on newlines and ;, comments and blank lines ignored, \\ continues a line', () => {
    const { ast, errors } = parse('# c\n"a" # trailing\n\n"b"; "c"\r\n"d" \\\n +f1\n');
    assert.deepEqual(errors, []);
    assert.equal(ast.statements.length, 4);
    const last = ast.statements[3] as Query;
    assert.equal(last.steers.length, 1);
  });

  test('header pragmas come only from comments before the first statement', () => {
    const { ast } = parse('# sae: sae-1\n# note: hi there\n"a"\n# sae: other\n');
    assert.deepEqual(
      ast.header.map((p) => [p.key, p.value]),
      [
        ['sae', 'sae-1'],
        ['note', 'hi there'],
      ],
    );
  });

  test('preset definition', () => {
    const { ast, errors } = parse('preset career = +@salary*0.5 +@jobs*0.3 $base');
    assert.deepEqual(errors, []);
    const definition = ast.statements[0]!;
    assert.equal(definition.kind, 'preset-definition');
    assert.equal(definition.kind === 'preset-definition' && definition.steers.length, 3);
  });

  test('ranges are 0-based LSP positions', () => {
    const query = onlyQuery('  "jobs"\t+f12');
    assert.deepEqual(query.texts[0]!.range, {
      start: { line: 0, character: 2 },
      end: { line: 0, character: 8 },
    });
    assert.deepEqual(query.steers[0]!.range, {
      start: { line: 0, character: 9 },
      end: { line: 0, character: 13 },
    });
    const second = parse('"a"\n  "b"').ast.statements[1] as Query;
    assert.deepEqual(second.texts[0]!.range, {
      start: { line: 1, character: 2 },
      end: { line: 1, character: 5 },
    });
  });

  test('string escapes', () => {
    const query = onlyQuery(String.raw`"a \"b\" \\ \n \t"`);
    assert.equal(query.texts[0]!.text, 'a "b" \\ \n \t');
  });
});

describe('parse: diagnostics and recovery', () => {
  test('"jobs" +f12* keeps the text and the edit and points after *', () => {
    const { ast, errors } = parse('"jobs" +f12*');
    const query = ast.statements[0] as Query;
    assert.equal(query.texts[0]!.text, 'jobs');
    const edit = query.steers[0] as Edit;
    assert.equal(edit.target.kind === 'feature-id' && edit.target.id, 12);
    assert.equal(edit.strength, undefined);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.code, 'no-viable-alternative');
    assert.match(
      errors[0]!.message,
      /expected a number or a relative strength \(2x\) after '\*', found end of input/,
    );
    assert.deepEqual(errors[0]!.range, {
      start: { line: 0, character: 12 },
      end: { line: 0, character: 12 },
    });
  });

  test('a stray token is skipped and the rest of the statement still parses', () => {
    const { ast, errors } = parse('"a" ) +f1 k=3');
    const query = ast.statements[0] as Query;
    assert.equal(query.steers.length, 1);
    assert.equal(query.options.length, 1);
    assert.deepEqual(
      errors.map((e) => [e.code, e.range.start.character, e.range.end.character]),
      [['unexpected-input', 4, 5]],
    );
    assert.match(errors[0]!.message, /unexpected '\)': expected a query item/);
  });

  test('an error in one statement does not affect the next', () => {
    const { ast, errors } = parse('"a" where\n"b" +f2');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.range.start.line, 0);
    assert.match(errors[0]!.message, /found end of line/);
    assert.equal((ast.statements[1] as Query).steers.length, 1);
  });

  test('unterminated strings, bad characters and bare words', () => {
    const { ast, errors } = parse('"abc +f1\njobs\n"a" % +f2');
    assert.deepEqual(
      errors.map((e) => [e.code, e.range.start.line, e.range.start.character]),
      [
        ['unterminated-string', 0, 0],
        ['bare-word', 1, 0],
        ['unexpected-character', 2, 4],
      ],
    );
    assert.equal((ast.statements[0] as Query).texts[0]!.text, 'abc +f1');
    assert.equal((ast.statements[2] as Query).steers.length, 1);
  });

  test('option and filter values are checked', () => {
    const { errors } = parse('"a" k=0 mode=fast nope=1 where year>en');
    assert.deepEqual(
      errors.map((e) => e.code),
      ['invalid-option-value', 'invalid-option-value', 'unknown-option', 'invalid-filter-value'],
    );
    assert.match(errors[1]!.message, /expected mode to be one of 'dense', 'sparse', 'hybrid', found "fast"/);
    const coding = parse('"a" code=lasso').errors;
    assert.deepEqual(
      coding.map((e) => [e.code, e.message]),
      [['invalid-option-value', `expected code to be one of 'auto', 'encoder', 'pursuit', found "lasso"`]],
    );
  });

  test('every diagnostic has a code, a message and a range inside the text', () => {
    const text = '"a" +f1* ) ~ @ $ k= where ( lang:( , "b\n preset = \n"c"^ *2x';
    const { errors } = parse(text);
    assert.ok(errors.length > 3);
    const lines = text.split('\n');
    for (const e of errors) {
      assert.match(e.code, /^[a-z-]+$/);
      assert.ok(e.message.length > 10);
      assert.ok(
        e.range.start.line < lines.length && e.range.end.character <= lines[e.range.end.line]!.length,
      );
    }
  });
});

describe('parse: never throws', () => {
  const alphabet = fc.constantFrom(
    ...'"\\+-=*^~/@$:;,()<>!.#\n \tfkx0123456789abwhereandornotpreset'.split(''),
  );
  test('arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const result = parse(text);
        assert.equal(result.ast.kind, 'file');
      }),
      { numRuns: 300 },
    );
  });

  test('strings over the language alphabet', () => {
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 120 }), (chars) => {
        const result = parse(chars.join(''));
        for (const e of result.errors) assert.ok(e.code !== 'internal-error', e.message);
      }),
      { numRuns: 400 },
    );
  });

  test('deep nesting is a diagnostic, not a stack overflow', () => {
    const deep = parse(`"a" where ${'('.repeat(5000)}x:1${')'.repeat(5000)}\n"b"`);
    assert.deepEqual(
      deep.errors.map((e) => e.code),
      ['nesting-too-deep'],
    );
    assert.equal(deep.ast.statements.length, 1);
    assert.deepEqual(parse(`"a" where ${'not '.repeat(150)}x:1`).errors, []);
  });

  test('non-string input does not throw either', () => {
    assert.equal(parse(undefined as unknown as string).ast.kind, 'file');
  });
});
