// Inlay hints: the label of each raw feature id (`+f12` shows `learning` beside it), and what each strength
// means for its query (`+f12*2x` shows `= 0.91` latent units, `+f12*0.5` shows `≈ 0.55x`).
import type { AstNode, Edit, Range } from '@steer/grammar';
import { InlayHintKind, type InlayHint } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { before, parsed } from './document.js';
import { describeUnit, strengthHint, strengthMeaning } from './strength.js';

/** Inlay hints for a range of a .steer document. */
export interface InlayHintsProvider {
  hints(document: TextDocument, range: Range, context: DocumentContext): Promise<InlayHint[]>;
}

function overlaps(node: { range: Range }, range: Range): boolean {
  return !before(node.range.end, range.start) && !before(range.end, node.range.start);
}

/** Creates the default inlay hints provider; labels longer than `maxLength` are cut with an ellipsis. */
export function createInlayHintsProvider(options: { maxLength?: number } = {}): InlayHintsProvider {
  const maxLength = options.maxLength ?? 40;
  return {
    async hints(document, range, context) {
      const catalog = context.catalog;
      if (!catalog) return [];
      const out: InlayHint[] = [];
      const visit = (value: unknown): void => {
        if (Array.isArray(value)) return value.forEach(visit);
        if (!value || typeof value !== 'object') return;
        const node = value as AstNode;
        if (node.kind === 'feature-id' && overlaps(node, range)) {
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
      const statements = parsed(document).ast.statements;
      visit(statements);
      // Strengths: one hint after each written strength, worked out for the query the edit is in.
      for (const statement of statements) {
        if (!overlaps(statement, range)) continue;
        for (const steer of statement.steers) {
          const edit = steer as Edit;
          if (edit.kind !== 'edit' || !edit.strength || !overlaps(edit.strength, range)) continue;
          const meaning = await strengthMeaning(statement, edit, context).catch(() => undefined);
          if (!meaning) continue;
          out.push({
            position: edit.strength.range.end,
            label: strengthHint(meaning),
            kind: InlayHintKind.Parameter,
            paddingLeft: true,
            tooltip: describeUnit(meaning.unit),
          });
        }
      }
      return out.sort(
        (a, b) => a.position.line - b.position.line || a.position.character - b.position.character,
      );
    },
  };
}
