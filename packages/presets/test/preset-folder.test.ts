// Tests of the preset folder: save/list/show/remove, SAE binding through compile(), and concurrent saves.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { compileText, parse } from '@steer/grammar';
import type { PresetError } from '../src/index.js';
import { FolderPresetStore, listPresets, removePreset, savePreset, showPreset } from '../src/index.js';
import { testCatalog } from './support/catalog.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'steer-presets-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  return join(root, `case-${counter++}`, 'presets');
}

describe('save, list, show, remove', () => {
  test('save writes a canonical .steer file bound to the SAE', async () => {
    const dir = freshDir();
    const saved = await savePreset(dir, 'career', '+@salary*0.5   @jobs*0.3', { catalog: testCatalog() });
    assert.equal(saved.saeId, 'sae-a');
    assert.equal(saved.edits, '+@salary*0.5 +@jobs*0.3');
    assert.deepEqual(
      saved.resolved.map((e) => [e.feature, e.value]),
      [
        [0, 0.5],
        [1, 0.3],
      ],
    );
    const text = await readFile(join(dir, 'career.steer'), 'utf8');
    assert.match(
      text,
      /^# sae: sae-a\n# saved: \d{4}-\d\d-\d\dT[^\n]+\npreset career = \+@salary\*0\.5 \+@jobs\*0\.3\n$/,
    );
    assert.deepEqual(parse(text).errors, []);
  });

  test('list, show and remove', async () => {
    const dir = freshDir();
    assert.deepEqual(await listPresets(dir), []);
    await savePreset(dir, 'b', '-@jobs', { catalog: testCatalog() });
    await savePreset(dir, 'a', '+f2*2x', { catalog: testCatalog(), saeId: 'sae-a' });
    await writeFile(join(dir, 'broken.steer'), 'preset broken = +f1*\n');
    await writeFile(join(dir, 'notes.txt'), 'not a preset');
    const listed = await listPresets(dir);
    assert.deepEqual(
      listed.map((p) => [p.name, p.saeId, p.edits, p.problem !== undefined]),
      [
        ['a', 'sae-a', '+f2*2x', false],
        ['b', 'sae-a', '-@jobs', false],
        ['broken', undefined, '', true],
      ],
    );
    const shown = await showPreset(dir, 'a');
    assert.equal(shown.edits, '+f2*2x');
    assert.match(shown.text, /preset a = \+f2\*2x/);
    await removePreset(dir, 'a');
    assert.deepEqual(
      (await listPresets(dir)).map((p) => p.name),
      ['b', 'broken'],
    );
    await assert.rejects(
      showPreset(dir, 'a'),
      (e: PresetError) => e.code === 'preset-not-found' && /saved presets: b, broken/.test(e.message),
    );
    await assert.rejects(removePreset(dir, 'a'), (e: PresetError) => e.code === 'preset-not-found');
  });

  test('bad names, unparsable and uncompilable edits are PresetErrors that say why', async () => {
    const dir = freshDir();
    const catalog = testCatalog();
    await assert.rejects(
      savePreset(dir, '../x', '+f1', { catalog }),
      (e: PresetError) => e.code === 'invalid-preset-name',
    );
    await assert.rejects(
      savePreset(dir, 'where', '+f1', { catalog }),
      (e: PresetError) => e.code === 'invalid-preset-name',
    );
    await assert.rejects(savePreset(dir, 'p', '+f1*', { catalog }), (e: PresetError) => {
      assert.equal(e.code, 'invalid-preset');
      assert.match(e.message, /expected a number or a relative strength/);
      assert.equal(e.diagnostics[0]!.range.start.character, 4); // column in the edits text
      return true;
    });
    await assert.rejects(
      savePreset(dir, 'p', '+@nope "text"', { catalog }),
      (e: PresetError) => e.code === 'invalid-preset',
    );
    await assert.rejects(
      savePreset(dir, 'p', '+@nope', { catalog }),
      (e: PresetError) =>
        e.code === 'invalid-preset' && /unknown feature alias or label 'nope'/.test(e.message),
    );
    await assert.rejects(
      savePreset(dir, 'p', '', { catalog }),
      (e: PresetError) => e.code === 'invalid-preset',
    );
    await savePreset(dir, 'p', '+f1', { catalog });
    await assert.rejects(
      savePreset(dir, 'p', '+f2', { catalog, overwrite: false }),
      (e: PresetError) => e.code === 'preset-exists',
    );
    assert.equal((await showPreset(dir, 'p')).edits, '+f1');
    assert.deepEqual((await readdir(dir)).sort(), ['p.steer']);
  });

  test('a preset may use other saved presets', async () => {
    const dir = freshDir();
    await savePreset(dir, 'base', '+@salary*0.5', { catalog: testCatalog() });
    const saved = await savePreset(dir, 'more', '$base -@jobs', { catalog: testCatalog() });
    assert.deepEqual(
      saved.resolved.map((e) => [e.feature, e.op]),
      [
        [0, 'add'],
        [1, 'zero'],
      ],
    );
  });
});

describe('FolderPresetStore with compile', () => {
  test('same SAE: inlined; other SAE: aliases re-resolve with a warning, ids are an error', async () => {
    const dir = freshDir();
    await savePreset(dir, 'byAlias', '+@salary*0.5', { catalog: testCatalog() });
    await savePreset(dir, 'byId', '+f0*0.5', { catalog: testCatalog() });
    const presets = new FolderPresetStore(dir);
    const same = await compileText('"q" $byAlias $byId', { catalog: testCatalog(), presets });
    assert.deepEqual(same.diagnostics, []);
    assert.deepEqual(
      same.plans[0]!.edits.map((e) => [e.feature, e.value]),
      [[0, 0.5]],
    );
    const other = await compileText('"q" $byAlias\n"r" $byId\n"s" $missing', {
      catalog: testCatalog('sae-b'),
      presets,
    });
    assert.deepEqual(
      other.diagnostics.map((d) => [d.code, d.severity]),
      [
        ['preset-reresolved', 'warning'],
        ['preset-sae-mismatch', 'error'],
        ['unknown-preset', 'error'],
      ],
    );
    assert.match(other.diagnostics[1]!.message, /made for SAE sae-a, not sae-b/);
    assert.deepEqual(
      other.plans[0]!.edits.map((e) => e.feature),
      [0],
    );
  });
});

describe('concurrent saves', () => {
  test('parallel saves in one process and in worker threads never leave a torn or temp file', async () => {
    const dir = freshDir();
    const catalog = testCatalog();
    // A reader polls the shared preset during the saves: with atomic writes it never sees a partial file.
    let saving = true;
    let reads = 0;
    const store = new FolderPresetStore(dir);
    const reader = (async () => {
      while (saving) {
        const stored = await store.get('shared');
        if (stored) {
          reads++;
          const { ast, errors } = parse(stored.text);
          assert.deepEqual(errors, [], `torn read:\n${stored.text}`);
          assert.equal(ast.statements.length, 1, `torn read:\n${stored.text}`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    // In-process: 40 overlapping saves of the same name and 20 of distinct names.
    await Promise.all([
      ...Array.from({ length: 40 }, (_, i) =>
        savePreset(dir, 'shared', `+@salary*0.${i + 1} -@jobs`, { catalog }),
      ),
      ...Array.from({ length: 20 }, (_, i) => savePreset(dir, `own-${i}`, `+f${i % 3}*1x`, { catalog })),
    ]);
    // Worker threads: 4 workers x 15 saves of another shared name, truly in parallel with each other.
    await Promise.all(
      Array.from({ length: 4 }, (_, worker) => {
        const thread = new Worker(new URL('./support/save-worker.js', import.meta.url), {
          workerData: { dir, name: 'threads', worker: worker + 1, rounds: 15 },
        });
        return new Promise<void>((resolve, reject) => {
          thread.once('message', () => resolve());
          thread.once('error', reject);
          thread.once('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`)),
          );
        });
      }),
    );
    saving = false;
    await reader;
    assert.ok(reads > 0, 'the reader never saw the shared preset');
    const files = (await readdir(dir)).sort();
    assert.equal(files.filter((f) => f.endsWith('.tmp')).length, 0, `temporary files left: ${files}`);
    assert.equal(files.length, 22);
    for (const file of files) {
      const text = await readFile(join(dir, file), 'utf8');
      const { ast, errors } = parse(text);
      assert.deepEqual(errors, [], `${file} does not parse:\n${text}`);
      assert.equal(ast.header[0]?.value, 'sae-a');
      assert.equal(ast.statements.length, 1);
    }
    assert.match((await showPreset(dir, 'shared')).edits, /^\+@salary\*0\.\d+ -@jobs$/);
    assert.match((await showPreset(dir, 'threads')).edits, /^\+@salary\*[1-4]\.\d+ -@jobs$/);
  });
});
