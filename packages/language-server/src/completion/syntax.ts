// Syntax items of completion: option keys (`k=`, `mode=`, ...), option values after `key=`, and the filter
// keywords (`where`, `and`, `or`, `not`) where the grammar expects them.
import { CODE_VALUES, MODE_VALUES, STEER_VALUES } from '@steer/grammar';
import { CompletionItemKind, type CompletionItem, type Range } from 'vscode-languageserver';

const OPTION_VALUES: Record<string, readonly string[]> = {
  mode: MODE_VALUES,
  steer: STEER_VALUES,
  code: CODE_VALUES,
};

const OPTION_KEYS: Array<{ key: string; doc: string; example: string }> = [
  { key: 'k', doc: 'hits to return (1 to 10000)', example: 'k=10' },
  { key: 'mode', doc: 'which vectors to search: dense, sparse or hybrid', example: 'mode=dense' },
  { key: 'index', doc: 'the index to search (a name or a quoted text)', example: 'index=default' },
  {
    key: 'steer',
    doc: 'residual keeps the SAE reconstruction error (x + W_dec·Δh); reconstructed uses the edited x̂',
    example: 'steer=residual',
  },
  {
    key: 'code',
    doc: "how the query's latents are found: auto (pursuit for steer=reconstructed, else the encoder; the default), the SAE's encoder, or pursuit over its decoder (closer to the query, slower)",
    example: 'code=pursuit',
  },
  { key: 'candidates', doc: 'ANN candidates examined (1 to 10000, at least k)', example: 'candidates=200' },
];

const KEYWORDS: Record<string, string> = { Where: 'where', And: 'and', Or: 'or', Not: 'not' };

/** The values an option `key` takes, replacing `range` (the value typed so far). */
export function optionValueItems(key: string, range: Range): CompletionItem[] {
  const values = key === 'index' ? ['default'] : (OPTION_VALUES[key] ?? []);
  return values.map((value) => ({
    label: value,
    kind: CompletionItemKind.EnumMember,
    textEdit: { range, newText: value },
  }));
}

/**
 * Option keys (where both an identifier and a text may follow, i.e. where an option may start) and the keywords
 * among the token kinds the grammar expects, replacing `range`.
 */
export function syntaxItems(expectedTokenKinds: readonly string[], range: Range): CompletionItem[] {
  const items: CompletionItem[] = [];
  if (expectedTokenKinds.includes('Identifier') && expectedTokenKinds.includes('StringLiteral')) {
    for (const { key, doc, example } of OPTION_KEYS) {
      items.push({
        label: `${key}=`,
        kind: CompletionItemKind.Property,
        detail: example,
        documentation: doc,
        textEdit: { range, newText: `${key}=` },
        command: OPTION_VALUES[key]
          ? { title: 'values', command: 'editor.action.triggerSuggest' }
          : undefined,
      });
    }
  }
  for (const kind of expectedTokenKinds) {
    const keyword = KEYWORDS[kind];
    if (keyword)
      items.push({ label: keyword, kind: CompletionItemKind.Keyword, textEdit: { range, newText: keyword } });
  }
  return items;
}
