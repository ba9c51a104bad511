// Public door of @steer/language-server: the server, its providers (for in-process use and tests) and the
// custom protocol shared with the extension (also importable alone as `@steer/language-server/protocol`).
export { startLanguageServer, type LanguageServerOptions } from './main.js';
export { createSteerProviders, type SteerProviders } from './providers.js';
export {
  createCompletionProvider,
  COMPLETION_TRIGGERS,
  type CompletionProvider,
  type CompletionOptions,
} from './completion.js';
export { createHoverProvider, describeFeatureMarkdown, type HoverProvider } from './hover.js';
export {
  createDiagnosticsProvider,
  toLspDiagnostic,
  ServerDiagnosticCode,
  type DiagnosticsProvider,
} from './diagnostics.js';
export { createCodeActionProvider, closestNames, type CodeActionProvider } from './code-actions.js';
export { createInlayHintsProvider, type InlayHintsProvider } from './inlay-hints.js';
export {
  createSemanticTokensProvider,
  SEMANTIC_TOKENS_LEGEND,
  type SemanticTokensProvider,
} from './semantic-tokens.js';
export { createFormattingProvider, type FormattingProvider } from './formatting.js';
export { createSymbolsProvider, type SymbolsProvider } from './symbols.js';
export {
  createCustomRequestHandlers,
  type CustomRequestHandlers,
  type RequestServices,
} from './custom-requests.js';
export { SteerRequestError } from './errors.js';
export { SteerWorkspace, CONFIG_FILE_NAME, type Project, type WorkspaceOptions } from './workspace.js';
export {
  EMPTY_CONTEXT,
  featureNames,
  type DocumentContext,
  type LspCatalog,
  type PresetSource,
  type TextActivation,
} from './context.js';
export * from './protocol.js';
