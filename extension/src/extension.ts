// The Steer extension: starts the language server, and adds "Steer: Run Query", "Save as Preset" and
// "Explain Feature", which ask the server through the custom requests of @steer/language-server/protocol.
// Problems that turn features off (a runtime that cannot load, a broken config) are shown as a notification with
// their cause and fix, and written to the "Steer" output channel.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import {
  ExplainFeatureRequest,
  ProjectProblemNotification,
  RunQueryRequest,
  SavePresetRequest,
  STEER_LANGUAGE_ID,
  type ProjectProblemParams,
} from '@steer/language-server/protocol';
import { renderFeatureHtml, renderResultsHtml } from './results-view.js';

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel | undefined;

/** What `npm run package` wrote about the runtimes inside this build (absent in a build without them). */
interface RuntimeManifest {
  target: string;
  node: string;
  packages: string[];
}

function runtimeManifest(context: vscode.ExtensionContext): RuntimeManifest | undefined {
  const path = context.asAbsolutePath(join('out', 'runtime.json'));
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RuntimeManifest) : undefined;
}

/** Shows a problem as a notification (with a button to the output channel) and writes it to the channel. */
function showProblem(problem: ProjectProblemParams): void {
  const where = problem.configFile ? ` (${problem.configFile})` : '';
  const log = problem.severity === 'error' ? output?.error : output?.warn;
  log?.call(output, `${problem.message}${where}; fix: ${problem.fix}`);
  const show =
    problem.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
  void show(`${problem.message}. Fix: ${problem.fix}`, 'Show Output').then((choice) => {
    if (choice === 'Show Output') output?.show(true);
  });
}

function serverOptions(
  context: vscode.ExtensionContext,
  runtimes: RuntimeManifest | undefined,
): ServerOptions {
  const command = vscode.workspace.getConfiguration('steer').get<string[]>('server.command', []);
  if (command.length > 0)
    return { command: command[0]!, args: command.slice(1), transport: TransportKind.stdio };
  const here = `${process.platform}-${process.arch}`;
  if (!runtimes) {
    output?.info(
      "This build of the Steer extension carries no native runtimes; the server looks for them in the workspace's node_modules.",
    );
  } else if (runtimes.target !== here) {
    showProblem({
      severity: 'error',
      message: `steer: this Steer extension carries the native runtimes for ${runtimes.target}, but VS Code runs on ${here}; the SAE, hover statistics, completion by concept and Run Query will not load`,
      fix: `install the Steer extension built for ${here}, or set "steer.server.command" to ["node", "<Steer checkout>/packages/cli/bin/steer.js", "lsp", "--stdio"]`,
    });
  }
  // NOTE: the bundled server (ESM, out/server/) loads its native runtimes lazily from out/node_modules.
  const module = context.asAbsolutePath(join('out', 'server', 'main.js'));
  return {
    run: { module, transport: TransportKind.stdio },
    debug: { module, transport: TransportKind.stdio },
  };
}

function activeSteerEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== STEER_LANGUAGE_ID) {
    void vscode.window.showWarningMessage('Steer: open a .steer file and put the cursor on a query first');
    return undefined;
  }
  return editor;
}

function position(editor: vscode.TextEditor) {
  const active = editor.selection.active;
  return { line: active.line, character: active.character };
}

async function report<T>(title: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, work);
  } catch (cause) {
    void vscode.window.showErrorMessage((cause as Error)?.message ?? String(cause));
    return undefined;
  }
}

async function runQuery(): Promise<void> {
  const editor = activeSteerEditor();
  if (!editor || !client) return;
  const uri = editor.document.uri.toString();
  const result = await report('Steer: running the query', () =>
    client!.sendRequest(RunQueryRequest, { uri, position: position(editor) }),
  );
  if (!result) return;
  const panel = vscode.window.createWebviewPanel(
    'steerResults',
    'Steer results',
    vscode.ViewColumn.Beside,
    {},
  );
  panel.webview.html = renderResultsHtml(result, panel.webview.cspSource);
}

async function savePreset(): Promise<void> {
  const editor = activeSteerEditor();
  if (!editor || !client) return;
  const name = await vscode.window.showInputBox({
    prompt: 'Preset name (a letter or _, then letters, digits, _ or -)',
    validateInput: (value) =>
      /^[A-Za-z_][A-Za-z0-9_-]*$/.test(value) ? undefined : 'not a valid preset name',
  });
  if (!name) return;
  const uri = editor.document.uri.toString();
  const selected = editor.selection.isEmpty ? undefined : editor.document.getText(editor.selection);
  const saved = await report('Steer: saving the preset', () =>
    client!.sendRequest(SavePresetRequest, {
      uri,
      name,
      position: position(editor),
      ...(selected ? { edits: selected } : {}),
    }),
  );
  if (!saved) return;
  const warnings = saved.warnings.length ? ` (${saved.warnings.join('; ')})` : '';
  void vscode.window.showInformationMessage(
    `Steer: saved $${saved.name} = ${saved.edits} to ${saved.path}${warnings}`,
  );
}

async function explainFeature(): Promise<void> {
  const editor = activeSteerEditor();
  if (!editor || !client) return;
  const uri = editor.document.uri.toString();
  const feature = await report('Steer: explaining the feature', () =>
    client!.sendRequest(ExplainFeatureRequest, { uri, position: position(editor) }),
  );
  if (!feature) return;
  const panel = vscode.window.createWebviewPanel(
    'steerFeature',
    `Steer f${feature.feature}`,
    vscode.ViewColumn.Beside,
    {},
  );
  panel.webview.html = renderFeatureHtml(feature, panel.webview.cspSource);
}

/** Starts the language client and registers the commands. */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Steer', { log: true });
  context.subscriptions.push(output);
  const runtimes = runtimeManifest(context);
  if (runtimes)
    output.info(
      `Steer ${context.extension.packageJSON.version} for ${runtimes.target}: ${runtimes.packages.length} runtime packages`,
    );
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: STEER_LANGUAGE_ID }],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/steer.config.json') },
    outputChannel: output,
    // NOTE: the server then sends steer/projectProblem instead of window/showMessage.
    initializationOptions: { projectProblems: true },
  };
  client = new LanguageClient('steer', 'Steer', serverOptions(context, runtimes), clientOptions);
  context.subscriptions.push(
    client.onNotification(ProjectProblemNotification.method, (problem: ProjectProblemParams) =>
      showProblem(problem),
    ),
    vscode.commands.registerCommand('steer.runQuery', runQuery),
    vscode.commands.registerCommand('steer.savePreset', savePreset),
    vscode.commands.registerCommand('steer.explainFeature', explainFeature),
  );
  await client.start();
}

/** Stops the language server. */
export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
