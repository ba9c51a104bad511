// The workspace `steer demo` leaves behind: a copy of the demo SAE (so aliases can be written beside it), a
// steer.config.json naming that SAE and the demo index, and demo.steer with example queries, ready for an editor.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { CONFIG_FILE } from '@steer/engine';
import { UsageError } from './command.js';
import { quoteText } from './query-text.js';

/** The user's own names for features, which a copy of the SAE must never overwrite. */
const ALIASES_FILE = join('catalog', 'aliases.json');
/** The example queries file of the workspace. */
export const DEMO_STEER_FILE = 'demo.steer';
/** Where the demo remembers what it last wrote to demo.steer (to tell a user's edits from its own). */
const STATE_FILE = 'demo-workspace.json';

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, base)));
    else if (entry.isFile()) out.push(relative(base, path));
  }
  return out.sort();
}

/**
 * Copies the SAE folder `from` into `to`, file by file and only where the content differs, keeping the
 * aliases of an earlier copy. Returns the number of files written.
 */
export async function copySae(from: string, to: string): Promise<number> {
  let written = 0;
  for (const file of await listFiles(from)) {
    if (file === ALIASES_FILE) continue;
    const data = await readFile(join(from, file));
    const target = join(to, file);
    const existing = existsSync(target) ? await readFile(target) : undefined;
    if (existing && existing.equals(data)) continue;
    await mkdir(dirname(target), { recursive: true });
    await writeFileAtomic(target, [data]);
    written++;
  }
  return written;
}

/** What the workspace's steer.config.json must say. */
export interface DemoConfig {
  /** SAE folder, relative to the workspace. */
  sae: string;
  index: string;
  /** Data folder: relative to the workspace when inside it, else absolute. */
  dataDir: string;
}

/**
 * Writes `<workspace>/steer.config.json` with the demo's SAE, index, embedder and backend, keeping every other
 * key of an existing file. Returns true when the file changed.
 * @throws UsageError when an existing file is not a JSON object (it is left as it is).
 */
export async function writeDemoConfig(workspace: string, demo: DemoConfig): Promise<boolean> {
  const path = join(workspace, CONFIG_FILE);
  let existing: Record<string, unknown> = {};
  let before: string | undefined;
  if (existsSync(path)) {
    before = await readFile(path, 'utf8');
    try {
      const parsed = JSON.parse(before) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      existing = parsed as Record<string, unknown>;
    } catch {
      throw new UsageError(
        `demo: ${path} is not a JSON object, so the demo cannot name its SAE and index there; fix or delete it, or pick another --dir`,
      );
    }
  }
  const config = {
    ...existing,
    sae: demo.sae,
    index: demo.index,
    dataDir: demo.dataDir,
    embedder: 'default',
    backend: 'embedded',
  };
  const text = `${JSON.stringify(config, null, 2)}\n`;
  if (text === before) return false;
  await writeFileAtomic(path, [Buffer.from(text)]);
  return true;
}

/** One demo query with the features the demo chose for it. */
export interface DemoSteering {
  query: string;
  toward: { perspective: string; concept: string; id: number };
  away?: { perspective: string; id: number };
}

/** The alias names the demo gives its features: the perspectives they steer toward or away from. */
export function demoAliases(steerings: readonly DemoSteering[]): Map<string, number> {
  const aliases = new Map<string, number>();
  for (const s of steerings) {
    aliases.set(s.toward.perspective, s.toward.id);
    if (s.away) aliases.set(s.away.perspective, s.away.id);
  }
  return aliases;
}

/**
 * The text of demo.steer: for the demo's queries, the same steering written with feature ids, with aliases,
 * with a concept and through a preset, so that each way of naming features is there to hover and run.
 */
export function demoSteerText(saeId: string, steerings: readonly DemoSteering[], k: number): string {
  const lines = [
    '# Steer demo queries, written by `steer demo`. Hover a feature, type `+@` or `+~"` to complete one,',
    '# and run "Steer: Run Query" (VS Code) on a line to see results with and without steering.',
    `# sae: ${saeId}`,
    '',
  ];
  const [first, second, third] = steerings;
  if (third) {
    const away = third.away ? ` -@${third.away.perspective}` : '';
    lines.push(
      `# A preset: reusable steering, used below as $${third.toward.perspective}_view.`,
      `preset ${third.toward.perspective}_view = +@${third.toward.perspective}*2x${away}`,
      '',
    );
  }
  lines.push(
    "# Feature ids, as the demo found them by concept search (the inlay hint shows each one's label):",
  );
  for (const s of steerings) {
    lines.push(`${quoteText(s.query)} +f${s.toward.id}*2x${s.away ? ` -f${s.away.id}` : ''} k=${k}`);
  }
  if (first) {
    lines.push(
      '',
      `# The same steering by alias (the demo named these features in sae/catalog/aliases.json):`,
    );
    lines.push(
      `${quoteText(first.query)} +@${first.toward.perspective}*2x${first.away ? ` -@${first.away.perspective}` : ''} k=${k}`,
    );
  }
  if (second) {
    lines.push('', '# By concept: the feature that best matches a description, found when the query runs:');
    lines.push(`${quoteText(second.query)} +~${quoteText(second.toward.concept)}*2x k=${k}`);
  }
  if (third) {
    lines.push('', '# Through the preset defined above:');
    lines.push(`${quoteText(third.query)} $${third.toward.perspective}_view k=${k}`);
  }
  lines.push('', '# Unsteered, for comparison:');
  for (const s of steerings) lines.push(`${quoteText(s.query)} k=${k}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes demo.steer unless the user edited the one an earlier run wrote. Returns 'written', 'unchanged' or
 * 'kept' (the user's edited file was left as it is).
 */
export async function writeDemoSteerFile(
  workspace: string,
  dataDir: string,
  text: string,
): Promise<'written' | 'unchanged' | 'kept'> {
  const path = join(workspace, DEMO_STEER_FILE);
  const statePath = join(dataDir, STATE_FILE);
  if (existsSync(path)) {
    const current = await readFile(path, 'utf8');
    if (current === text) return 'unchanged';
    let lastWritten: string | undefined;
    try {
      lastWritten = (JSON.parse(await readFile(statePath, 'utf8')) as { demoSteerSha256?: string })
        .demoSteerSha256;
    } catch {
      lastWritten = undefined;
    }
    if (sha256(current) !== lastWritten) return 'kept';
  }
  await writeFileAtomic(path, [Buffer.from(text)]);
  await mkdir(dataDir, { recursive: true });
  await writeFileAtomic(statePath, [Buffer.from(`${JSON.stringify({ demoSteerSha256: sha256(text) })}\n`)]);
  return 'written';
}

/** The data folder as steer.config.json should name it: relative inside the workspace, else absolute. */
export function configPath(workspace: string, path: string): string {
  const inside = relative(workspace, path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

/** How to open the workspace in VS Code and in Neovim, as lines to print. */
export function editorInstructions(options: {
  workspace: string;
  /** The workspace as the user should type it (relative to where they are when that is shorter). */
  shown: string;
  steerBin: string;
  vsix: string | undefined;
  vsixHint: string;
}): string[] {
  const file = join(options.shown, DEMO_STEER_FILE);
  const vsix = options.vsix
    ? `code --install-extension ${options.vsix}`
    : `build the extension first (${options.vsixHint}), then code --install-extension <the .vsix>`;
  const lsp = `{name='steer', cmd={'${process.execPath}', '${options.steerBin}', 'lsp', '--stdio'}, root_dir='${options.workspace}'}`;
  return [
    'Open it in an editor:',
    `  VS Code:  ${vsix}`,
    `            code ${options.shown} ${file}`,
    `  Neovim:   nvim ${file} -c "set filetype=steer" -c "lua vim.lsp.buf_attach_client(0, vim.lsp.start_client(${lsp}))"`,
  ];
}
