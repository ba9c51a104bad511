// scripts/clean-stale.mjs: compiled files whose source is gone are removed before `tsc -b`, nothing else is.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function write(path: string, text = ''): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

test('clean-stale removes the outputs of a moved source and keeps live outputs and the bundle', () => {
  const repo = mkdtempSync(join(tmpdir(), 'steer-clean-stale-'));
  try {
    write(join(repo, 'package.json'), JSON.stringify({ workspaces: ['pkg'] }));
    mkdirSync(join(repo, 'scripts'));
    copyFileSync(join(root, 'scripts', 'clean-stale.mjs'), join(repo, 'scripts', 'clean-stale.mjs'));
    const pkg = join(repo, 'pkg');
    write(join(pkg, 'src', 'data', 'neighbours.ts'), 'export {};\n');
    for (const ext of ['.js', '.js.map', '.d.ts', '.d.ts.map']) {
      write(join(pkg, 'dist', 'src', 'data', `neighbours${ext}`));
      write(join(pkg, 'dist', 'src', 'backend', `neighbours${ext}`)); // the source moved to data/
    }
    write(join(pkg, 'dist', 'bundle', 'main.js')); // written by a bundler, no source of its own
    write(join(pkg, 'dist', 'tsconfig.tsbuildinfo'));

    const stderr = execFileSync('node', [join(repo, 'scripts', 'clean-stale.mjs')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(stderr, '');
    for (const ext of ['.js', '.js.map', '.d.ts', '.d.ts.map']) {
      assert.ok(
        !existsSync(join(pkg, 'dist', 'src', 'backend', `neighbours${ext}`)),
        `stale neighbours${ext} kept`,
      );
      assert.ok(
        existsSync(join(pkg, 'dist', 'src', 'data', `neighbours${ext}`)),
        `live neighbours${ext} removed`,
      );
    }
    assert.ok(existsSync(join(pkg, 'dist', 'bundle', 'main.js')));
    assert.ok(existsSync(join(pkg, 'dist', 'tsconfig.tsbuildinfo')));
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
