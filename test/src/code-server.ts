// Real VS Code for end-to-end tests: code-server 4.100.3 (installed offline by scripts/install-code-server.sh)
// serving a folder on 127.0.0.1, with extensions installed from .vsix files into a fresh, settings-free profile,
// and Debian's Chromium driven by playwright-core. Every request the browser makes to anything but
// 127.0.0.1 is blocked. Waits are on conditions, never on time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { repoRoot } from './run-cli.js';

/** Where scripts/install-code-server.sh installs code-server (override with STEER_CODE_SERVER). */
export const codeServerBin =
  process.env.STEER_CODE_SERVER ??
  join(repoRoot, '.tools', 'code-server', 'node_modules', '.bin', 'code-server');
/** Debian's Chromium (override with STEER_CHROMIUM). */
export const chromiumBin = process.env.STEER_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why real VS Code cannot run here, or undefined when it can: code-server and Chromium must be installed.
 * The message says how to install them.
 */
function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function missingEditor(): string | undefined {
  const missing: string[] = [];
  if (!isExecutable(codeServerBin))
    missing.push(
      `code-server is not installed at ${codeServerBin}: run scripts/install-code-server.sh (it needs apt-get install chromium libkrb5-dev ripgrep python3 make g++)`,
    );
  if (!isExecutable(chromiumBin))
    missing.push(`Chromium is not installed at ${chromiumBin}: apt-get install chromium`);
  return missing.length ? missing.join('; ') : undefined;
}

/** Polls `check` every 100 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A running code-server with its own profile, and a Chromium page on it. */
export interface VsCodeSession {
  page: Page;
  url: string;
  /** Everything code-server printed (for failure messages). */
  log(): string;
  close(): Promise<void>;
}

/**
 * Installs `vsix` into a fresh extensions folder and profile (no settings), starts code-server on a free port of
 * 127.0.0.1 serving `folder`, and opens it in headless Chromium.
 */
export async function openVsCode(folder: string, vsix: string): Promise<VsCodeSession> {
  const home = await mkdtemp(join(tmpdir(), 'steer-vscode-'));
  const dirs = {
    userData: join(home, 'user-data'),
    extensions: join(home, 'extensions'),
    config: join(home, 'config'),
    browser: join(home, 'chromium'),
  };
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: join(home, 'data'),
    // NOTE: code-server's own server would query open-vsx.org for extensions; point it at a closed local port.
    EXTENSIONS_GALLERY: JSON.stringify({
      serviceUrl: 'http://127.0.0.1:9/gallery',
      itemUrl: 'http://127.0.0.1:9/items',
      resourceUrlTemplate: 'http://127.0.0.1:9/resource/{publisher}/{name}/{version}/{path}',
    }),
  };
  const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  const install = spawnSync(codeServerBin, [...common, '--install-extension', vsix], {
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (install.status !== 0)
    throw new Error(`code-server --install-extension ${vsix} failed:\n${install.stdout}\n${install.stderr}`);

  let output = '';
  const server: ChildProcess = spawn(
    codeServerBin,
    [
      ...common,
      '--auth',
      'none',
      '--bind-addr',
      '127.0.0.1:0',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      folder,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  server.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  server.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  let browser: BrowserContext | undefined;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    // NOTE: code-server starts its extension host and language servers as children; end the whole group.
    if (server.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      if (server.exitCode === null) {
        try {
          process.kill(-server.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    await rm(home, { recursive: true, force: true });
  };
  try {
    const base = await until(
      'code-server to listen',
      () => {
        if (server.exitCode !== null)
          throw new Error(`code-server exited with ${server.exitCode}:\n${output}`);
        return /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      },
      120_000,
    );
    const url = `${base}/?folder=${encodeURIComponent(folder)}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launchPersistentContext(dirs.browser, {
      executablePath: chromiumBin,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 60_000,
      viewport: { width: 1400, height: 860 },
    });
    // Keep all traffic on 127.0.0.1.
    await browser.route('**/*', (route) => {
      const target = new URL(route.request().url());
      if (['data:', 'blob:'].includes(target.protocol) || target.hostname === '127.0.0.1')
        return route.continue();
      return route.abort();
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(60_000);
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.locator('.monaco-workbench').waitFor();
    return { page, url, log: () => output, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Opens a file of the workspace folder by clicking it in the Explorer. */
export async function openFromExplorer(page: Page, name: string): Promise<void> {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor();
  await row.click();
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor();
}

/** Runs a command from the palette (F1), e.g. "Steer: Run Query". */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor();
  await page.keyboard.press('Enter');
}

/** Puts the cursor at a 1-based line and column with "Go to Line/Column" (Ctrl+G). */
export async function goTo(page: Page, line: number, column: number): Promise<void> {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`:${line}:${column}`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden' });
}

/** The text of every frame whose body matches `pattern` (webviews live in nested iframes). */
export async function framesWithText(
  page: Page,
  pattern: RegExp,
): Promise<Array<{ frame: Frame; text: string }>> {
  const found: Array<{ frame: Frame; text: string }> = [];
  for (const frame of page.frames()) {
    // NOTE: runs in the browser; this package has no DOM types, so the page's document is reached untyped.
    const text = await frame
      .evaluate(
        () =>
          (globalThis as unknown as { document: { body?: { innerText: string } } }).document.body
            ?.innerText ?? '',
      )
      .catch(() => '');
    if (pattern.test(text)) found.push({ frame, text });
  }
  return found;
}
