// Inlay hints: the label of each raw feature id (`+f12` shows `learning` beside it).
import type { AstNode, Range } from '@steer/grammar';
import { InlayHintKind, type InlayHint } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { before, parsed } from './document.js';

/** Inlay hints for a range of a .steer document. */
export interface InlayHintsProvider {
  hints(document: TextDocument, range: Range, context: DocumentContext): InlayHint[];
}

/** Creates the default inlay hints provider; labels longer than `maxLength` are cut with an ellipsis. */
export function createInlayHintsProvider(options: { maxLength?: number } = {}): InlayHintsProvider {
  const maxLength = options.maxLength ?? 40;
  return {
    hints(document, range, context) {
      const catalog = context.catalog;
      if (!catalog) return [];
      const out: InlayHint[] = [];
      const visit = (value: unknown): void => {
        if (Array.isArray(value)) return value.forEach(visit);
        if (!value || typeof value !== 'object') return;
        const node = value as AstNode;
        if (
          node.kind === 'feature-id' &&
          !before(node.range.end, range.start) &&
          !before(range.end, node.range.start)
        ) {
          const info = catalog.get(node.id);
          const label = info?.aliases?.[0] ?? info?.label;
          if (label) {
            out.push({
              position: node.range.end,
              label: label.length > maxLength ? `${label.slice(0, maxLength - 1)}…` : label,
              kind: InlayHintKind.Type,
              paddingLeft: true,
              tooltip: info?.label,
            });
          }
        }
        for (const [key, inner] of Object.entries(value))
          if (key !== 'range' && key !== 'nameRange') visit(inner);
      };
      visit(parsed(document).ast.statements);
      return out;
    },
  };
}
