// The Steer language server: creates the connection and wires the feature providers to it; nothing more.
import { fileURLToPath } from 'node:url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  MessageType,
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
import {
  ExplainFeatureRequest,
  ProjectProblemNotification,
  RunQueryRequest,
  SavePresetRequest,
  type ProjectProblemParams,
} from './protocol.js';
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

function requestError(cause: unknown): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestFailed, (cause as Error)?.message ?? String(cause));
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
  const delay = options.validationDelayMs ?? 50;
  const timers = new Map<string, NodeJS.Timeout>();
  let watchRegistration = false;
  // Clients that declare `initializationOptions.projectProblems` get steer/projectProblem; others showMessage.
  let customProblems = false;
  const problemQueue: ProjectProblemParams[] = [];
  let initialized = false;
  const sendProblem = (problem: ProjectProblemParams): void => {
    if (!initialized) {
      problemQueue.push(problem);
      return;
    }
    if (customProblems) {
      void connection.sendNotification(ProjectProblemNotification.method, problem);
      return;
    }
    const message = `${problem.message}; ${problem.fix}`;
    connection.console.log(message);
    void connection.sendNotification('window/showMessage', {
      type: problem.severity === 'error' ? MessageType.Error : MessageType.Warning,
      message,
    });
  };

  const validate = async (document: TextDocument): Promise<void> => {
    const context = await workspace.contextFor(document.uri);
    const diagnostics = await providers.diagnostics.diagnose(document, context);
    if (documents.get(document.uri)?.version !== document.version) return; // edited meanwhile
    await connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics });
  };
  const schedule = (document: TextDocument): void => {
    clearTimeout(timers.get(document.uri));
    timers.set(
      document.uri,
      setTimeout(() => {
        timers.delete(document.uri);
        validate(document).catch((cause) =>
          connection.console.error(`diagnostics: ${(cause as Error)?.stack ?? cause}`),
        );
      }, delay),
    );
  };

  const workspace = new SteerWorkspace({
    ...(options.env ? { env: options.env } : {}),
    ...(options.loadEmbedder ? { loadEmbedder: options.loadEmbedder } : {}),
    log: (message) => connection.console.log(message),
    onConfigChanged: () => documents.all().forEach(schedule),
    onContextChanged: () => documents.all().forEach(schedule),
    onProblem: sendProblem,
  });
  const contextOf = (uri: string) => workspace.contextFor(uri);
  const documentOf = (uri: string): TextDocument => {
    const document = documents.get(uri);
    if (!document)
      throw new ResponseError(LSPErrorCodes.RequestFailed, `steer: ${uri} is not open in the editor`);
    return document;
  };
  const services = (uri: string) => {
    const project = (): Promise<Project> => workspace.projectFor(uri);
    return {
      context: () => contextOf(uri),
      engine: async () => (await project()).engine(),
      presetsDir: async () => (await (await project()).config()).presets,
    };
  };

  connection.onInitialize((params): InitializeResult => {
    watchRegistration = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
    customProblems =
      (params.initializationOptions as { projectProblems?: unknown } | undefined)?.projectProblems === true;
    // Load the projects of the workspace folders now (catalog first, the embedder in a worker), so that the
    // first completion does not wait for them.
    const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
    for (const uri of folders) if (uri.startsWith('file:')) void workspace.preload(fileURLToPath(uri));
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
  });
  connection.onInitialized(() => {
    initialized = true;
    problemQueue.splice(0).forEach(sendProblem);
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

  documents.onDidChangeContent(({ document }) => schedule(document));
  documents.onDidClose(({ document }) => {
    clearTimeout(timers.get(document.uri));
    void connection.sendDiagnostics({ uri: document.uri, diagnostics: [] });
  });

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

  connection.onRequest(
    RunQueryRequest.method,
    (params: Parameters<SteerProviders['requests']['runQuery']>[1]) =>
      providers.requests.runQuery(documentOf(params.uri), params, services(params.uri)).catch((cause) => {
        throw requestError(cause);
      }),
  );
  connection.onRequest(
    ExplainFeatureRequest.method,
    (params: Parameters<SteerProviders['requests']['explainFeature']>[1]) =>
      providers.requests
        .explainFeature(documentOf(params.uri), params, services(params.uri))
        .catch((cause) => {
          throw requestError(cause);
        }),
  );
  connection.onRequest(
    SavePresetRequest.method,
    (params: Parameters<SteerProviders['requests']['savePreset']>[1]) =>
      providers.requests.savePreset(documentOf(params.uri), params, services(params.uri)).catch((cause) => {
        throw requestError(cause);
      }),
  );

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
    for (const timer of timers.values()) clearTimeout(timer);
    void disposeWorkspace().finally(() => {
      connection.dispose();
      exit(shutdownReceived ? 0 : 1);
    });
  };
  connection.onShutdown(async () => {
    shutdownReceived = true;
    for (const timer of timers.values()) clearTimeout(timer);
    await disposeWorkspace();
  });
  connection.onExit(finish);
  input.once('end', finish);
  input.once('close', finish);
  documents.listen(connection);
  connection.listen();
  return connection;
}
