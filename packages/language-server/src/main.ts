// The Steer language server: creates the connection and wires the feature providers to it; nothing more.
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ProposedFeatures,
  ResponseError,
  LSPErrorCodes,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { COMPLETION_TRIGGERS } from './completion.js';
import type { RequestServices } from './custom-requests.js';
import { createDiagnosticsSchedule, type DiagnosticsSchedule } from './diagnostics-schedule.js';
import type { DocumentContext } from './context.js';
import { createProblemChannel } from './project-problems.js';
import { ExplainFeatureRequest, RunQueryRequest, SavePresetRequest } from './protocol.js';
import { createSteerProviders, type SteerProviders } from './providers.js';
import { CONFIG_FILE_NAME, SteerWorkspace, type Project, type WorkspaceOptions } from './workspace.js';

export interface LanguageServerOptions {
  /** Messages in (default process.stdin). */
  input?: NodeJS.ReadableStream;
  /** Messages out (default process.stdout). */
  output?: NodeJS.WritableStream;
  /** Environment read with steer.config.json (default process.env). */
  env?: NodeJS.ProcessEnv;
  providers?: Partial<SteerProviders>;
  /** Loads a project's embedder (default: in a worker thread); see {@link WorkspaceOptions.loadEmbedder}. */
  loadEmbedder?: WorkspaceOptions['loadEmbedder'];
  /** Milliseconds to wait after an edit before checking the document (default 50). */
  validationDelayMs?: number;
  /**
   * Called once when the client sends `exit` or closes the input, with the LSP exit code (0 after
   * `shutdown`, else 1). Default: process.exit when serving on process.stdout, nothing otherwise.
   */
  onExit?: (code: number) => void;
}

/** How the handlers reach an open document, its project's context and the services of custom requests. */
interface Lookups {
  documentOf(uri: string): TextDocument;
  contextOf(uri: string): Promise<DocumentContext>;
  services(uri: string): RequestServices;
}

function requestError(cause: unknown): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestFailed, (cause as Error)?.message ?? String(cause));
}

/** The capabilities the server announces in its `initialize` answer. */
function serverCapabilities(providers: SteerProviders): InitializeResult {
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: COMPLETION_TRIGGERS, resolveProvider: true },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite] },
      inlayHintProvider: true,
      semanticTokensProvider: { legend: providers.semanticTokens.legend, full: true },
      documentFormattingProvider: true,
      documentSymbolProvider: true,
    },
    serverInfo: { name: 'steer-language-server', version: '0.1.0' },
  };
}

/** Lookups on the open documents and the workspace; a request on a document that is not open fails, naming it. */
function lookups(documents: TextDocuments<TextDocument>, workspace: SteerWorkspace): Lookups {
  const contextOf = (uri: string) => workspace.contextFor(uri);
  return {
    contextOf,
    documentOf(uri) {
      const document = documents.get(uri);
      if (!document)
        throw new ResponseError(LSPErrorCodes.RequestFailed, `steer: ${uri} is not open in the editor`);
      return document;
    },
    services(uri) {
      const project = (): Promise<Project> => workspace.projectFor(uri);
      return {
        context: () => contextOf(uri),
        engine: async () => (await project()).engine(),
        presetsDir: async () => (await (await project()).config()).presets,
      };
    },
  };
}

/** The standard LSP features: each request goes to its provider with the document and its context. */
function wireFeatures(
  connection: Connection,
  providers: SteerProviders,
  { documentOf, contextOf }: Lookups,
): void {
  connection.onCompletion(async ({ textDocument, position }) =>
    providers.completion.complete(documentOf(textDocument.uri), position, await contextOf(textDocument.uri)),
  );
  connection.onCompletionResolve(async (item) => {
    const uri = (item.data as { uri?: unknown } | undefined)?.uri;
    return typeof uri === 'string' ? providers.completion.resolve(item, await contextOf(uri)) : item;
  });
  connection.onHover(async ({ textDocument, position }) =>
    providers.hover.hover(documentOf(textDocument.uri), position, await contextOf(textDocument.uri)),
  );
  connection.onCodeAction(async ({ textDocument, range, context }) =>
    providers.codeActions.actions(
      documentOf(textDocument.uri),
      range,
      context.diagnostics,
      await contextOf(textDocument.uri),
    ),
  );
  connection.languages.inlayHint.on(async ({ textDocument, range }) =>
    providers.inlayHints.hints(documentOf(textDocument.uri), range, await contextOf(textDocument.uri)),
  );
  connection.languages.semanticTokens.on(async ({ textDocument }) =>
    providers.semanticTokens.tokens(documentOf(textDocument.uri), await contextOf(textDocument.uri)),
  );
  connection.onDocumentFormatting(({ textDocument }) =>
    providers.formatting.format(documentOf(textDocument.uri)),
  );
  connection.onDocumentSymbol(({ textDocument }) => providers.symbols.symbols(documentOf(textDocument.uri)));
}

/** The custom requests of protocol.ts; a failure answers the request with its message. */
function wireCustomRequests(
  connection: Connection,
  providers: SteerProviders,
  { documentOf, services }: Lookups,
): void {
  type Requests = SteerProviders['requests'];
  const failAsRequestError = <T>(answer: Promise<T>): Promise<T> =>
    answer.catch((cause: unknown) => {
      throw requestError(cause);
    });
  connection.onRequest(RunQueryRequest.method, (params: Parameters<Requests['runQuery']>[1]) =>
    failAsRequestError(providers.requests.runQuery(documentOf(params.uri), params, services(params.uri))),
  );
  connection.onRequest(ExplainFeatureRequest.method, (params: Parameters<Requests['explainFeature']>[1]) =>
    failAsRequestError(
      providers.requests.explainFeature(documentOf(params.uri), params, services(params.uri)),
    ),
  );
  connection.onRequest(SavePresetRequest.method, (params: Parameters<Requests['savePreset']>[1]) =>
    failAsRequestError(providers.requests.savePreset(documentOf(params.uri), params, services(params.uri))),
  );
}

/**
 * `shutdown` and `exit` (or the input closing): waiting validations are dropped, the workspace is disposed, and
 * `onExit` gets 0 after `shutdown`, else 1.
 */
function wireLifecycle(
  connection: Connection,
  options: LanguageServerOptions,
  workspace: SteerWorkspace,
  schedule: DiagnosticsSchedule,
): void {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  // NOTE: disposing native sessions can stall while a request still runs in them; never let that block exit.
  const disposeWorkspace = (): Promise<void> =>
    Promise.race([
      workspace.dispose().catch(() => undefined),
      new Promise<void>((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
  let shutdownReceived = false;
  let exited = false;
  const exit =
    options.onExit ?? (output === process.stdout ? (code: number) => process.exit(code) : () => undefined);
  const finish = (): void => {
    if (exited) return;
    exited = true;
    schedule.cancelAll();
    void disposeWorkspace().finally(() => {
      connection.dispose();
      exit(shutdownReceived ? 0 : 1);
    });
  };
  connection.onShutdown(async () => {
    shutdownReceived = true;
    schedule.cancelAll();
    await disposeWorkspace();
  });
  connection.onExit(finish);
  input.once('end', finish);
  input.once('close', finish);
}

/**
 * Starts the language server on a stream pair (stdio by default) and returns its connection.
 * NOTE: with stdout as the channel, console.log/info/warn/debug are sent to stderr so that libraries that
 * print (TensorFlow.js does) cannot corrupt the protocol stream.
 */
export function startLanguageServer(options: LanguageServerOptions = {}): Connection {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  if (output === process.stdout) {
    const toStderr = (...args: unknown[]) => console.error(...args);
    console.log = console.info = console.warn = console.debug = toStderr;
  }
  const connection = createConnection(
    ProposedFeatures.all,
    new StreamMessageReader(input),
    new StreamMessageWriter(output),
  );
  const documents = new TextDocuments(TextDocument);
  const providers = createSteerProviders({}, options.providers);
  const problems = createProblemChannel(connection);
  const schedule = createDiagnosticsSchedule({
    connection,
    documents,
    delayMs: options.validationDelayMs ?? 50,
    diagnose: async (document) =>
      providers.diagnostics.diagnose(document, await workspace.contextFor(document.uri)),
  });
  const workspace = new SteerWorkspace({
    ...(options.env ? { env: options.env } : {}),
    ...(options.loadEmbedder ? { loadEmbedder: options.loadEmbedder } : {}),
    log: (message) => connection.console.log(message),
    onConfigChanged: () => documents.all().forEach(schedule.schedule),
    onContextChanged: () => documents.all().forEach(schedule.schedule),
    onProblem: problems.send,
  });

  let watchRegistration = false;
  connection.onInitialize((params): InitializeResult => {
    watchRegistration = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    problems.initialize(params);
    // Load the projects of the workspace folders now (catalog first, the embedder in a worker), so that the
    // first completion does not wait for them.
    const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
    for (const uri of folders) if (uri.startsWith('file:')) void workspace.preload(fileURLToPath(uri));
    return serverCapabilities(providers);
  });
  connection.onInitialized(() => {
    problems.initialized();
    if (watchRegistration) {
      void connection.client.register(DidChangeWatchedFilesNotification.type, {
        watchers: [{ globPattern: `**/${CONFIG_FILE_NAME}` }],
      });
    }
  });
  connection.onDidChangeWatchedFiles(({ changes }) => {
    const config = changes.find((c) => c.uri.endsWith(`/${CONFIG_FILE_NAME}`));
    if (config) workspace.configChanged(config.uri);
  });
  documents.onDidChangeContent(({ document }) => schedule.schedule(document));
  documents.onDidClose(({ document }) => schedule.closed(document));

  const lookup = lookups(documents, workspace);
  wireFeatures(connection, providers, lookup);
  wireCustomRequests(connection, providers, lookup);
  wireLifecycle(connection, options, workspace, schedule);
  documents.listen(connection);
  connection.listen();
  return connection;
}
