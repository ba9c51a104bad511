// What code trained an SAE: a hash of the trainer's own compiled files (any change to the training code changes it,
// so caches keyed on it retrain) and the git commit of the checkout, both recorded in every SAE manifest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The code behind a run: the trainer's code hash, and the git commit with `dirty` when tracked files differ. */
export interface CodeVersion {
  /**
   * SHA-256 (first 16 hex characters) of the trainer's compiled JavaScript files (by relative path) and of the
   * versions of the TensorFlow.js packages that compute the steps.
   */
  trainer: string;
  /** Git commit of the checkout, or `STEER_CODE_VERSION`, or `unknown`. */
  commit: string;
  dirty: boolean;
}

let cached: CodeVersion | undefined;

function jsFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) jsFiles(path, out);
    else if (entry.name.endsWith('.js')) out.push(path);
  }
  return out;
}

/** The code version of this process's trainer (computed once). */
export function codeVersion(): CodeVersion {
  if (cached !== undefined) return cached;
  const srcDir = dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  for (const file of jsFiles(srcDir).sort()) {
    hash
      .update(`${relative(srcDir, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  }
  const require = createRequire(import.meta.url);
  for (const name of [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
  ]) {
    let version = 'absent';
    try {
      version = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // optional backends may be missing; their absence is part of the hash
    }
    hash.update(`${name}@${version}\0`);
  }
  const trainer = hash.digest('hex').slice(0, 16);
  let commit = process.env.STEER_CODE_VERSION ?? 'unknown';
  let dirty = false;
  if (process.env.STEER_CODE_VERSION === undefined) {
    let dir = srcDir;
    while (!existsSync(join(dir, '.git')) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      const git = (...args: string[]): string =>
        execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      commit = git('rev-parse', 'HEAD');
      dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    } catch {
      // not a git checkout, or git is missing: the trainer hash still identifies the code
    }
  }
  cached = { trainer, commit, dirty };
  return cached;
}

/** `abc123def456` or `abc123def456+changes`, for reports. */
export function formatCommit(version: Pick<CodeVersion, 'commit' | 'dirty'>): string {
  return `${version.commit.slice(0, 12)}${version.dirty ? '+changes' : ''}`;
}
