// Cold start of the language server on the demo workspace: from spawning the server process to the answer of
// the first completion request (`+@lear`), sent right after `initialize`, against the 300 ms target. Measured
// for the server bundled into the VS Code extension (with its runtimes in extension/out/node_modules; built by
// `npm run package -w extension`) and for `steer lsp --stdio` (what Neovim runs; the same bundle, in
// packages/language-server/dist/bundle). Besides wall time, the CPU time of the server's main thread until the
// answer (Linux /proc), which depends less on how busy the machine is.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleStaleness } from '@steer/language-server/start';
import { LspClient } from '../src/lsp-client.js';
import { repoRoot, steerBin } from '../src/run-cli.js';

interface Figure {
  figure: string;
  value: number;
  unit: string;
  vs?: { figure: string; value: number; ratio: number };
}

const TARGET_MS = 300;
const RUNS = 7;
const TEXT = '"what is the value of a university degree" +f84*2x -f13 k=5\n"what is a degree worth" +@lear\n';

/** CPU time (user + system) of a process's main thread so far, in ms, or NaN where /proc is missing. */
function mainThreadCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

/** Spawns the server, and times initialize and the first completion from the spawn. */
async function coldStart(
  script: string,
  args: string[],
  workspace: string,
): Promise<{ initializeMs: number; completionMs: number; cpuMs: number; items: number }> {
  const started = performance.now();
  const client = LspClient.startScript(script, args, workspace, { NODE_PATH: '' });
  try {
    const root = pathToFileURL(workspace).href;
    await client.request('initialize', {
      processId: process.pid,
      rootUri: root,
      workspaceFolders: [{ uri: root, name: 'demo' }],
      capabilities: {},
    });
    const initializeMs = performance.now() - started;
    client.notify('initialized', {});
    const uri = pathToFileURL(join(workspace, 'demo.steer')).href;
    client.notify('textDocument/didOpen', {
      textDocument: { uri, languageId: 'steer', version: 1, text: TEXT },
    });
    const result = await client.request<{ items: unknown[] } | unknown[]>('textDocument/completion', {
      textDocument: { uri },
      position: { line: 1, character: TEXT.split('\n')[1]!.length },
    });
    const completionMs = performance.now() - started;
    const cpuMs = mainThreadCpuMs(client.pid);
    const items = Array.isArray(result) ? result.length : result.items.length;
    await client.stop();
    return { initializeMs, completionMs, cpuMs, items };
  } finally {
    client.kill();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs the benchmark: about 10 s. */
export async function run(report: (figure: Figure) => void): Promise<void> {
  const workspace = await mkdtemp(join(tmpdir(), 'steer-cold-start-'));
  try {
    await writeFile(
      join(workspace, 'steer.config.json'),
      JSON.stringify({ sae: join(repoRoot, 'packages', 'cli', 'demo', 'sae'), dataDir: '.steer' }),
    );
    await writeFile(join(workspace, 'demo.steer'), TEXT);
    const servers: Array<{ name: string; script: string; args: string[] }> = [];
    const bundled = join(repoRoot, 'extension', 'out', 'server', 'main.js');
    if (existsSync(join(repoRoot, 'extension', 'out', 'node_modules'))) {
      servers.push({ name: 'VS Code extension server', script: bundled, args: ['--stdio'] });
    } else {
      process.stderr.write(
        'lsp cold start: extension/out has no runtimes; run `npm run package -w extension` to measure it\n',
      );
    }
    // NOTE: `steer lsp` runs the bundle that `npm run build` (and `npm run bench`) writes, unless it is stale.
    const stale = bundleStaleness();
    if (stale) process.stderr.write(`lsp cold start: ${stale}; \`steer lsp\` runs the compiled modules\n`);
    servers.push({
      name: stale ? 'steer lsp --stdio, compiled modules' : 'steer lsp --stdio',
      script: steerBin,
      args: ['lsp', '--stdio'],
    });
    for (const server of servers) {
      await coldStart(server.script, server.args, workspace); // warm the file cache once
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await coldStart(server.script, server.args, workspace));
      const completion = runs.map((r) => r.completionMs);
      report({
        figure: `lsp cold start: spawn to initialize, median of ${RUNS} (${server.name})`,
        value: median(runs.map((r) => r.initializeMs)),
        unit: 'ms',
      });
      report({
        figure: `lsp cold start: spawn to first completion, median of ${RUNS} (${server.name})`,
        value: median(completion),
        unit: 'ms',
        vs: { figure: 'target', value: TARGET_MS, ratio: median(completion) / TARGET_MS },
      });
      report({
        figure: `lsp cold start: spawn to first completion, slowest of ${RUNS} (${server.name})`,
        value: Math.max(...completion),
        unit: 'ms',
        vs: { figure: 'target', value: TARGET_MS, ratio: Math.max(...completion) / TARGET_MS },
      });
      report({
        figure: `lsp cold start: main-thread CPU until the first completion, median of ${RUNS} (${server.name})`,
        value: median(runs.map((r) => r.cpuMs)),
        unit: 'ms',
      });
      report({
        figure: `lsp cold start: items in the first completion of +@lear (${server.name})`,
        value: Math.min(...runs.map((r) => r.items)),
        unit: 'items',
      });
    }
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}
