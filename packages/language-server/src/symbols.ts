// Document symbols: the preset definitions of a .steer document (with their edits) and its queries.
import { formatStatement } from '@steer/grammar';
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { parsed } from './document.js';

/** The outline of a .steer document. */
export interface SymbolsProvider {
  symbols(document: TextDocument): DocumentSymbol[];
}

/** Creates the default document symbols provider. */
export function createSymbolsProvider(): SymbolsProvider {
  return {
    symbols(document) {
      return parsed(document).ast.statements.map((statement): DocumentSymbol => {
        if (statement.kind === 'preset-definition') {
          return {
            name: `$${statement.name}`,
            detail: formatStatement(statement).replace(/^preset \S+ =\s?/, ''),
            kind: SymbolKind.Function,
            range: statement.range,
            selectionRange: statement.nameRange,
          };
        }
        const first = statement.texts[0];
        return {
          name: first ? JSON.stringify(first.text) : 'query',
          detail: formatStatement(statement),
          kind: SymbolKind.Event,
          range: statement.range,
          selectionRange: first?.range ?? statement.range,
        };
      });
    },
  };
}
