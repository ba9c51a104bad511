// Quick fixes: did-you-mean for unknown aliases and presets (by label, alias and edit distance), an id for an
// ambiguous alias, and a rewrite of a raw feature id to its alias.
import { nodeAt, type AstNode, type Edit, type Position, type Range } from '@steer/grammar';
import { CodeActionKind, type CodeAction, type Diagnostic } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { aliasText, editDistance, featureNames, type DocumentContext } from './context.js';
import { before, parsed } from './document.js';

/** Code actions for a range of a .steer document and the diagnostics there. */
export interface CodeActionProvider {
  actions(
    document: TextDocument,
    range: Range,
    diagnostics: Diagnostic[],
    context: DocumentContext,
  ): Promise<CodeAction[]>;
}

function fix(
  title: string,
  document: TextDocument,
  range: Range,
  newText: string,
  diagnostic?: Diagnostic,
): CodeAction {
  return {
    title,
    kind: CodeActionKind.QuickFix,
    ...(diagnostic ? { diagnostics: [diagnostic], isPreferred: false } : {}),
    edit: { changes: { [document.uri]: [{ range, newText }] } },
  };
}

/** The closest of `names` to `wanted` within an edit distance of about a third of its length. */
export function closestNames(wanted: string, names: Iterable<string>, limit = 3): string[] {
  const key = wanted.toLowerCase();
  const max = Math.max(1, Math.floor(key.length / 3));
  const scored: Array<{ name: string; distance: number }> = [];
  for (const name of names) {
    const distance = editDistance(key, name.toLowerCase(), max);
    if (distance <= max) scored.push({ name, distance });
  }
  scored.sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  return [...new Set(scored.map((s) => s.name))].slice(0, limit);
}

function editAt(node: AstNode | undefined): Edit | undefined {
  return node?.kind === 'edit' ? node : undefined;
}

function overlaps(a: Range, b: Range): boolean {
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** Creates the default code action provider. */
export function createCodeActionProvider(): CodeActionProvider {
  return {
    async actions(document, range, diagnostics, context) {
      const result = parsed(document);
      const catalog = context.catalog;
      const out: CodeAction[] = [];
      for (const diagnostic of diagnostics) {
        const start: Position = diagnostic.range.start;
        const node = nodeAt(result.ast, start);
        const target = node?.kind === 'alias' ? node : editAt(node)?.target;
        switch (diagnostic.code) {
          case 'unknown-alias': {
            if (!catalog || target?.kind !== 'alias') break;
            const entries = featureNames(catalog).entries;
            for (const name of closestNames(target.name, new Set(entries.map((e) => e.name)))) {
              const id = entries.find((e) => e.name === name)!.id;
              // NOTE: a label may name several features; then the fix writes the id, which names one.
              const ids = new Set(catalog.byAliasOrLabel(name).map((f) => f.id));
              const replacement = ids.size === 1 ? aliasText(name) : `f${id}`;
              out.push(
                fix(
                  `Did you mean ${aliasText(name)} (f${id})?${replacement === aliasText(name) ? '' : ` Write ${replacement}`}`,
                  document,
                  target.range,
                  replacement,
                  diagnostic,
                ),
              );
            }
            break;
          }
          case 'ambiguous-alias': {
            if (!catalog || target?.kind !== 'alias') break;
            for (const feature of catalog.byAliasOrLabel(target.name).slice(0, 5)) {
              out.push(
                fix(
                  `Use f${feature.id}${feature.label ? ` (${feature.label})` : ''}`,
                  document,
                  target.range,
                  `f${feature.id}`,
                  diagnostic,
                ),
              );
            }
            break;
          }
          case 'unknown-preset': {
            const ref = node?.kind === 'preset-ref' ? node : undefined;
            if (!ref) break;
            const local = result.ast.statements.flatMap((s) =>
              s.kind === 'preset-definition' ? [s.name] : [],
            );
            const saved = ((await context.presets?.list().catch(() => [])) ?? []).map((p) => p.name);
            for (const name of closestNames(ref.name, [...local, ...saved])) {
              out.push(fix(`Did you mean $${name}?`, document, ref.range, `$${name}`, diagnostic));
            }
            break;
          }
          case 'unknown-feature': {
            if (!catalog || target?.kind !== 'feature-id') break;
            const last = catalog.nLatents - 1;
            out.push(fix(`Use the last feature f${last}`, document, target.range, `f${last}`, diagnostic));
            break;
          }
        }
      }
      // Rewrites that need no diagnostic: a raw id that has an alias.
      if (catalog) {
        const visit = (value: unknown): void => {
          if (Array.isArray(value)) return value.forEach(visit);
          if (!value || typeof value !== 'object') return;
          const n = value as AstNode;
          if (n.kind === 'feature-id' && overlaps(n.range, range)) {
            const alias = catalog.get(n.id)?.aliases?.[0];
            if (alias) {
              out.push({
                ...fix(
                  `Replace f${n.id} with its alias ${aliasText(alias)}`,
                  document,
                  n.range,
                  aliasText(alias),
                ),
                kind: CodeActionKind.RefactorRewrite,
              });
            }
          }
          for (const [key, inner] of Object.entries(value))
            if (key !== 'range' && key !== 'nameRange') visit(inner);
        };
        visit(result.ast.statements);
      }
      return out;
    },
  };
}
