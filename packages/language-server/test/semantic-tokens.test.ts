// Semantic tokens: relative encoding, token types from the AST, dead features marked deprecated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createSemanticTokensProvider, EMPTY_CONTEXT, SEMANTIC_TOKENS_LEGEND } from '../src/index.js';
import { testProject } from './support/project.js';

function decode(
  data: number[],
): Array<{ line: number; start: number; length: number; type: string; modifiers: string[] }> {
  const out = [];
  let line = 0;
  let start = 0;
  for (let i = 0; i < data.length; i += 5) {
    line += data[i]!;
    start = data[i]! === 0 ? start + data[i + 1]! : data[i + 1]!;
    const bits = data[i + 4]!;
    out.push({
      line,
      start,
      length: data[i + 2]!,
      type: SEMANTIC_TOKENS_LEGEND.tokenTypes[data[i + 3]!]!,
      modifiers: SEMANTIC_TOKENS_LEGEND.tokenModifiers.filter((_, b) => bits & (1 << b)),
    });
  }
  return out;
}

test('tokens cover texts, features, strengths, presets, options and filter fields in order', () => {
  const text = 'preset p = +@a\n"jobs" +f12*0.5 $p k=5 mode=dense where lang:en';
  const document = TextDocument.create('file:///t.steer', 'steer', 1, text);
  const tokens = decode(createSemanticTokensProvider().tokens(document, EMPTY_CONTEXT).data);
  assert.deepEqual(
    tokens.map(
      (t) =>
        `${t.line}:${t.start}+${t.length} ${t.type}${t.modifiers.length ? '.' + t.modifiers.join('.') : ''}`,
    ),
    [
      '0:7+1 function.declaration',
      '0:12+2 variable.readonly',
      '1:0+6 string',
      '1:8+3 variable',
      '1:12+3 number',
      '1:16+2 function',
      '1:19+1 property',
      '1:21+1 number',
      '1:23+4 property',
      '1:28+5 enumMember',
      '1:40+4 property',
    ],
  );
});

test('dead features are marked deprecated', async () => {
  const { context, fixture } = await testProject();
  const document = TextDocument.create('file:///t.steer', 'steer', 1, `"x" +f${fixture.deadFeature}`);
  const tokens = decode(createSemanticTokensProvider().tokens(document, context).data);
  assert.deepEqual(tokens[1]!.modifiers, ['deprecated']);
});
