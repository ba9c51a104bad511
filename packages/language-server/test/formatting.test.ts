// Formatting: canonical statements, comments kept, statements with errors left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createFormattingProvider } from '../src/index.js';

function format(text: string): string {
  const document = TextDocument.create('file:///f.steer', 'steer', 1, text);
  return TextDocument.applyEdits(document, createFormattingProvider().format(document));
}

test('statements become canonical; comments and header pragmas stay', () => {
  const text = '# sae: sae-1\n# my queries\nk=5   "jobs"   f12*0.5 # trailing\n\npreset  p =  +@a   -f3';
  assert.equal(
    format(text),
    '# sae: sae-1\n# my queries\n"jobs" +f12*0.5 k=5 # trailing\n\npreset p = +@a -f3',
  );
});

test('a statement with a syntax error is left as typed; formatting twice changes nothing', () => {
  const text = '"a"   +f1*\n"b"    -f2';
  const once = format(text);
  assert.equal(once, '"a"   +f1*\n"b" -f2');
  assert.equal(format(once), once);
});
