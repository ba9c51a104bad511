// Document symbols: presets (with their edits) and queries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SymbolKind } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createSymbolsProvider } from '../src/index.js';

test('presets are functions with their edits; queries are named by their first text', () => {
  const document = TextDocument.create(
    'file:///s.steer',
    'steer',
    1,
    'preset career = +@salary*0.5 -f3\n"jobs" $career k=5',
  );
  const symbols = createSymbolsProvider().symbols(document);
  assert.deepEqual(
    symbols.map((s) => [s.name, s.kind, s.detail]),
    [
      ['$career', SymbolKind.Function, '+@salary*0.5 -f3'],
      ['"jobs"', SymbolKind.Event, '"jobs" $career k=5'],
    ],
  );
  assert.deepEqual(symbols[0]!.selectionRange, {
    start: { line: 0, character: 7 },
    end: { line: 0, character: 13 },
  });
});
