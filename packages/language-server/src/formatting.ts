// Formatting: each statement in canonical form (grammar `formatStatement`), statement by statement, so
// comments on their own lines and after statements are kept; statements with syntax errors are left alone.
import { formatStatement, type Range } from '@steer/grammar';
import type { TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { before, parsed } from './document.js';

/** Text edits that format a .steer document. */
export interface FormattingProvider {
  format(document: TextDocument): TextEdit[];
}

function overlaps(a: Range, b: Range): boolean {
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** Creates the default formatting provider. */
export function createFormattingProvider(): FormattingProvider {
  return {
    format(document) {
      const { ast, errors } = parsed(document);
      const edits: TextEdit[] = [];
      for (const statement of ast.statements) {
        if (errors.some((e) => overlaps(e.range, statement.range))) continue;
        const newText = formatStatement(statement);
        if (document.getText(statement.range) !== newText) edits.push({ range: statement.range, newText });
      }
      return edits;
    },
  };
}
