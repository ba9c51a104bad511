// Preset items of completion after `$`: the presets defined in the document, then the saved ones of the
// presets folder (a saved preset that a local definition shadows is not listed).
import { CompletionItemKind, type CompletionItem, type Range } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from '../context.js';
import { parsed } from '../document.js';

type SavedPresets = Awaited<ReturnType<NonNullable<DocumentContext['presets']>['list']>>;

/** The preset items that replace `range` (which starts at the `$`). */
export async function presetItems(
  document: TextDocument,
  context: DocumentContext,
  range: Range,
): Promise<CompletionItem[]> {
  const local = parsed(document).ast.statements.filter((s) => s.kind === 'preset-definition');
  const items = new Map<string, CompletionItem>();
  for (const definition of local) {
    items.set(definition.name, {
      label: `$${definition.name}`,
      kind: CompletionItemKind.Function,
      detail: 'preset in this file',
      textEdit: { range, newText: `$${definition.name}` },
    });
  }
  let saved: SavedPresets = [];
  try {
    saved = (await context.presets?.list()) ?? [];
  } catch {
    saved = [];
  }
  for (const preset of saved) {
    if (items.has(preset.name)) continue;
    items.set(preset.name, {
      label: `$${preset.name}`,
      kind: CompletionItemKind.Function,
      detail: preset.problem ? `invalid: ${preset.problem}` : preset.edits,
      documentation: preset.saeId ? `saved preset for SAE ${preset.saeId}` : 'saved preset',
      textEdit: { range, newText: `$${preset.name}` },
    });
  }
  return [...items.values()];
}
