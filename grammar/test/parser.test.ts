// Tests of the parser and lexer construction: the grammar and token list pass Chevrotain's validations (which
// the production instances skip to start faster), and skipping them changes nothing about what is parsed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SteerParser, steerParser } from '../src/parser.js';
import { createSteerLexer, steerLexer } from '../src/tokens.js';

const SAMPLES = [
  '"jobs" +f12*2x -@remote ~"remote work"*0.5 k=5 where year >= 2020 and not (tag = "x" or tag = y)',
  'preset careers = +f1 -f2*0.5 $base',
  '"half typed" +@lea',
  '"a" +f12*-0.5 *abc where',
];

describe('parser construction', () => {
  test('the grammar passes Chevrotain validations (ambiguity, left recursion, duplicate rules)', () => {
    // NOTE: performSelfAnalysis throws on any definition error when validations are on, so building is the check;
    // `skipValidations` (a Chevrotain field) shows that the option reached Chevrotain.
    const parser = new SteerParser({ validate: true });
    assert.equal(Reflect.get(parser, 'skipValidations'), false);
    assert.equal(Reflect.get(steerParser(), 'skipValidations'), true);
  });

  test('the token list passes the lexer validations', () => {
    const lexer = createSteerLexer({ validate: true });
    assert.deepEqual(lexer.lexerDefinitionErrors, []);
  });

  test('the production parser and lexer (validations skipped) parse like validated ones', () => {
    const validatedParser = new SteerParser({ validate: true });
    const validatedLexer = createSteerLexer({ validate: true });
    for (const text of SAMPLES) {
      const tokens = validatedLexer.tokenize(text).tokens.filter((t) => t.tokenType.name !== 'Newline');
      assert.deepEqual(
        steerLexer()
          .tokenize(text)
          .tokens.map((t) => [t.tokenType.name, t.image]),
        validatedLexer.tokenize(text).tokens.map((t) => [t.tokenType.name, t.image]),
      );
      validatedParser.input = tokens;
      const expected = validatedParser.statement();
      const expectedErrors = validatedParser.errors.map((e) => e.message);
      const parser = steerParser();
      parser.input = tokens;
      assert.deepEqual(parser.statement(), expected, text);
      assert.deepEqual(
        parser.errors.map((e) => e.message),
        expectedErrors,
        text,
      );
    }
  });

  test('steerParser() builds one parser on first use and reuses it', () => {
    assert.equal(steerParser(), steerParser());
    assert.equal(steerLexer(), steerLexer());
  });
});
