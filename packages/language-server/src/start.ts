// How `steer lsp` loads the server: the esbuild bundle in dist/bundle (`npm run build` writes it) when it is up to
// date with the compiled sources, since it starts in a fraction of the time; else the compiled modules themselves.
import { readFileSync, statSync } from 'node:fs';
import type * as Server from './main.js';

/** The language server's API, and where it was loaded from. */
export interface LoadedLanguageServer {
  startLanguageServer: typeof Server.startLanguageServer;
  /** True when it came from the bundle. */
  bundled: boolean;
  /** Why the bundle was not used, when it was not (to log: it starts slower). */
  notBundled?: string;
}

const BUNDLE_DIR = new URL('../bundle/', import.meta.url);

/**
 * Why the bundle in `bundleDir` cannot stand in for the compiled modules (it is missing, or a file it was built
 * from changed since), or undefined when it is up to date.
 */
export function bundleStaleness(bundleDir: URL = BUNDLE_DIR): string | undefined {
  let inputs: { newestMs: number; files: string[] };
  try {
    inputs = JSON.parse(readFileSync(new URL('inputs.json', bundleDir), 'utf8')) as typeof inputs;
  } catch {
    return 'the bundled server is missing';
  }
  for (const file of inputs.files) {
    const url = new URL(file, bundleDir);
    const modified = statSync(url, { throwIfNoEntry: false })?.mtimeMs;
    if (modified === undefined || modified > inputs.newestMs) {
      return `the bundled server is older than ${decodeURIComponent(url.pathname)}`;
    }
  }
  return undefined;
}

/**
 * Loads the language server: the bundle when it is up to date, else the compiled modules (with `notBundled`
 * saying why; run `npm run build` to rebuild the bundle).
 */
export async function loadLanguageServer(bundleDir: URL = BUNDLE_DIR): Promise<LoadedLanguageServer> {
  const stale = bundleStaleness(bundleDir);
  if (stale) {
    const { startLanguageServer } = await import('./main.js');
    return { startLanguageServer, bundled: false, notBundled: stale };
  }
  const { startLanguageServer } = (await import(new URL('server.js', bundleDir).href)) as typeof Server;
  return { startLanguageServer, bundled: true };
}
