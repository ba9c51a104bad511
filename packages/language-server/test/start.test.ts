// Tests of how `steer lsp` loads the server: the esbuild bundle when it is up to date with the compiled files it
// was built from, else the compiled modules, saying why; either one answers `initialize` over a stream pair.
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { bundleStaleness, loadLanguageServer, type LoadedLanguageServer } from '../src/start.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'steer-lsp-start-'));
  dirs.push(dir);
  return dir;
}
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

const dirUrl = (dir: string): URL => pathToFileURL(`${dir}/`);

/** Starts `server` on a stream pair, sends `initialize`, and returns the result; then shuts it down. */
async function initialize(server: LoadedLanguageServer): Promise<{ serverInfo?: { name: string } }> {
  const input = new PassThrough();
  const output = new PassThrough();
  let exited: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((resolve) => (exited = resolve));
  server.startLanguageServer({ input, output, onExit: (code) => exited(code) });
  const send = (message: object): void => {
    const body = JSON.stringify({ jsonrpc: '2.0', ...message });
    input.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  let buffer = '';
  const response = (id: number) =>
    new Promise<{ result: unknown }>((resolve) => {
      const onData = (chunk: Buffer): void => {
        buffer += chunk.toString('utf8');
        for (const part of buffer.split(/Content-Length: \d+\r\n\r\n/)) {
          try {
            const message = JSON.parse(part) as { id?: number; result: unknown };
            if (message.id === id) {
              output.off('data', onData);
              resolve(message);
            }
          } catch {
            // a partial message: wait for more
          }
        }
      };
      output.on('data', onData);
    });
  send({ id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
  const { result } = await response(1);
  send({ id: 2, method: 'shutdown' });
  await response(2);
  // NOTE: not the `exit` notification: vscode-languageserver answers it with process.exit. The end of the input
  // stream makes the server finish, like a client that goes away.
  input.end();
  assert.equal(await exitCode, 0);
  return result as { serverInfo?: { name: string } };
}

describe('loadLanguageServer', () => {
  test('a folder without a bundle is missing; one whose inputs changed since is stale', async () => {
    const dir = await tempDir();
    assert.equal(bundleStaleness(dirUrl(dir)), 'the bundled server is missing');
    await writeFile(join(dir, 'input.js'), '');
    const built = Date.now() / 1000 - 60;
    await utimes(join(dir, 'input.js'), built, built);
    await writeFile(
      join(dir, 'inputs.json'),
      JSON.stringify({ newestMs: built * 1000, files: ['input.js'] }),
    );
    assert.equal(bundleStaleness(dirUrl(dir)), undefined);
    await utimes(join(dir, 'input.js'), built + 10, built + 10);
    assert.match(bundleStaleness(dirUrl(dir)) ?? '', /the bundled server is older than .*input\.js$/);
    await writeFile(join(dir, 'inputs.json'), JSON.stringify({ newestMs: built * 1000, files: ['gone.js'] }));
    assert.match(bundleStaleness(dirUrl(dir)) ?? '', /older than .*gone\.js$/);
  });

  test('without an up-to-date bundle, the compiled server starts and says why', async () => {
    const server = await loadLanguageServer(dirUrl(await tempDir()));
    assert.equal(server.bundled, false);
    assert.equal(server.notBundled, 'the bundled server is missing');
    assert.equal((await initialize(server)).serverInfo?.name, 'steer-language-server');
  });

  test('a freshly built bundle is used, and answers like the compiled server', async () => {
    const dir = await tempDir();
    const bundle = new URL('../../bundle.mjs', import.meta.url).href;
    const { bundleLanguageServer } = (await import(bundle)) as {
      bundleLanguageServer: (options: { outdir: string }) => Promise<void>;
    };
    await bundleLanguageServer({ outdir: dir });
    assert.equal(bundleStaleness(dirUrl(dir)), undefined);
    const server = await loadLanguageServer(dirUrl(dir));
    assert.equal(server.bundled, true);
    assert.equal(server.notBundled, undefined);
    assert.equal((await initialize(server)).serverInfo?.name, 'steer-language-server');
  });
});
