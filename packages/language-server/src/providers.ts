// The set of feature providers the server wires to the connection (and tests run in-process).
import { createCodeActionProvider, type CodeActionProvider } from './code-actions.js';
import { createCompletionProvider, type CompletionOptions, type CompletionProvider } from './completion.js';
import { createCustomRequestHandlers, type CustomRequestHandlers } from './custom-requests.js';
import { createDiagnosticsProvider, type DiagnosticsProvider } from './diagnostics.js';
import { createFormattingProvider, type FormattingProvider } from './formatting.js';
import { createHoverProvider, type HoverProvider } from './hover.js';
import { createInlayHintsProvider, type InlayHintsProvider } from './inlay-hints.js';
import { createSemanticTokensProvider, type SemanticTokensProvider } from './semantic-tokens.js';
import { createSymbolsProvider, type SymbolsProvider } from './symbols.js';

/** One provider per LSP feature. */
export interface SteerProviders {
  completion: CompletionProvider;
  hover: HoverProvider;
  diagnostics: DiagnosticsProvider;
  codeActions: CodeActionProvider;
  inlayHints: InlayHintsProvider;
  semanticTokens: SemanticTokensProvider;
  formatting: FormattingProvider;
  symbols: SymbolsProvider;
  requests: CustomRequestHandlers;
}

/** Creates the default providers; `overrides` replace single ones (e.g. in tests). */
export function createSteerProviders(
  options: { completion?: CompletionOptions } = {},
  overrides: Partial<SteerProviders> = {},
): SteerProviders {
  return {
    completion: createCompletionProvider(options.completion),
    hover: createHoverProvider(),
    diagnostics: createDiagnosticsProvider(),
    codeActions: createCodeActionProvider(),
    inlayHints: createInlayHintsProvider(),
    semanticTokens: createSemanticTokensProvider(),
    formatting: createFormattingProvider(),
    symbols: createSymbolsProvider(),
    requests: createCustomRequestHandlers(),
    ...overrides,
  };
}
