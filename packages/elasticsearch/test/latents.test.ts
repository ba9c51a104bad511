// The sparse latent side field writer: bulk update shapes, 429 retries, failures, skip-existing and checkpoints.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { createMockClient } from './mock-client.js';
import type { ClientMockLike } from './mock-client.js';
import { writeLatents } from '../src/index.js';
import type { DocumentLatents } from '../src/index.js';

type Line = Record<string, unknown>;

function docs(n: number): DocumentLatents[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    latents: { indices: [i, i + 1], values: [1 + i, 0] },
  }));
}

/** `_meta` of an index whose latents were written with --latent-norm l2. */
const L2_META = { steer: { latents: { steer_latents: { norm: 'l2' } } } };

function setup(
  mapping: Record<string, unknown> = {},
  meta: Record<string, unknown> = Object.keys(mapping).length > 0 ? L2_META : {},
): {
  mock: ClientMockLike;
  client: Client;
  bulks: Line[][];
  putMappings: unknown[];
} {
  const { mock, client } = createMockClient();
  const bulks: Line[][] = [];
  const putMappings: unknown[] = [];
  mock.add({ method: 'GET', path: '/docs/_mapping' }, () => ({
    docs: { mappings: { properties: mapping, _meta: meta } },
  }));
  mock.add({ method: 'PUT', path: '/docs/_mapping' }, (p) => {
    putMappings.push(p.body);
    return { acknowledged: true };
  });
  mock.add({ method: ['GET', 'POST'], path: '/docs/_refresh' }, () => ({ _shards: {} }));
  return { mock, client, bulks, putMappings };
}

function okBulk(bulks: Line[][], status: (id: string, attempt: number) => number = () => 200) {
  const attempts = new Map<string, number>();
  return (params: { body?: unknown }) => {
    const lines = params.body as Line[];
    bulks.push(lines);
    let errors = false;
    const items = lines
      .filter((_, i) => i % 2 === 0)
      .map((action) => {
        const id = (action.update as { _id: string })._id;
        const attempt = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, attempt);
        const code = status(id, attempt);
        if (code >= 400) errors = true;
        return {
          update:
            code >= 400
              ? {
                  _id: id,
                  status: code,
                  error: {
                    type: code === 429 ? 'es_rejected_execution_exception' : 'document_missing_exception',
                    reason: 'r',
                  },
                }
              : { _id: id, status: code, result: 'updated' },
        };
      });
    return { errors, items };
  };
}

describe('writeLatents (elasticsearch-mock)', () => {
  it('adds the sparse_vector mapping and sends partial updates keyed f<id>, positive weights only', async () => {
    const { mock, client, bulks, putMappings } = setup({}, { other: 'kept' });
    mock.add({ method: 'POST', path: '/_bulk' }, okBulk(bulks));
    const progress: number[] = [];
    const source = [...docs(2), { id: 'd2', latents: { indices: [7, 9, 4], values: [3, 4, -1] } }];
    const result = await writeLatents(client, 'docs', source, {
      total: 3,
      onProgress: (p) => progress.push(p.done),
    });
    assert.deepEqual(result, { written: 3, skipped: 0, failed: 0, failures: [] });
    // Recorded incomplete before the first write, complete once every document is confirmed.
    assert.deepEqual(putMappings, [
      { properties: { steer_latents: { type: 'sparse_vector' } } },
      { _meta: { other: 'kept', steer: { latents: { steer_latents: { norm: 'l2', complete: false } } } } },
      { _meta: { other: 'kept', steer: { latents: { steer_latents: { norm: 'l2' } } } } },
    ]);
    // Unit-normalised by default: {f1: 2} -> {f1: 1}; {f7: 3, f9: 4} -> {f7: 0.6, f9: 0.8}.
    assert.deepEqual(bulks.flat(), [
      { update: { _index: 'docs', _id: 'd0' } },
      { doc: { steer_latents: { f0: 1 } } },
      { update: { _index: 'docs', _id: 'd1' } },
      { doc: { steer_latents: { f1: 1 } } },
      { update: { _index: 'docs', _id: 'd2' } },
      { doc: { steer_latents: { f7: 0.6, f9: 0.8 } } },
    ]);
    assert.deepEqual(progress, [1, 2, 3]);
  });

  it('norm none writes the raw activations and records none', async () => {
    const { mock, client, bulks, putMappings } = setup();
    mock.add({ method: 'POST', path: '/_bulk' }, okBulk(bulks));
    await writeLatents(client, 'docs', [{ id: 'd2', latents: { indices: [7, 9], values: [3, 4] } }], {
      norm: 'none',
    });
    assert.deepEqual(putMappings.slice(1), [
      { _meta: { steer: { latents: { steer_latents: { norm: 'none', complete: false } } } } },
      { _meta: { steer: { latents: { steer_latents: { norm: 'none' } } } } },
    ]);
    assert.deepEqual(bulks.flat()[1], { doc: { steer_latents: { f7: 3, f9: 4 } } });
  });

  it('a resume refuses latents written with another or an unrecorded normalisation', async () => {
    const none = setup(
      { steer_latents: { type: 'sparse_vector' } },
      { steer: { latents: { steer_latents: { norm: 'none' } } } },
    );
    none.mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 4 }));
    await assert.rejects(
      writeLatents(none.client, 'docs', docs(1), { resume: 'skip-existing' }),
      /written with --latent-norm none, so resuming with --latent-norm l2 would mix the two; rerun without --resume to rewrite them all, or resume with --latent-norm none/,
    );
    const unfinished = setup(
      { steer_latents: { type: 'sparse_vector' } },
      { steer: { latents: { steer_latents: { norm: 'none', complete: false } } } },
    );
    unfinished.mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 2 }));
    await assert.rejects(
      writeLatents(unfinished.client, 'docs', docs(1), { resume: 'checkpoint', checkpointFile: 'unused' }),
      /written with --latent-norm none \(by a run that did not finish\), so resuming with --latent-norm l2/,
    );
    assert.deepEqual([none.putMappings, unfinished.putMappings], [[], []], 'nothing is written');
    const unrecorded = setup({ steer_latents: { type: 'sparse_vector' } }, {});
    unrecorded.mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 4 }));
    await assert.rejects(
      writeLatents(unrecorded.client, 'docs', docs(1), { resume: 'skip-existing' }),
      /without a recorded normalisation/,
    );
    assert.deepEqual(unrecorded.putMappings, [], 'nothing is written');
  });

  it('refuses a latent field mapped as something else', async () => {
    const { client } = setup({ steer_latents: { type: 'keyword' } });
    await assert.rejects(writeLatents(client, 'docs', docs(1)), /mapped as keyword, not sparse_vector/);
  });

  it('retries 429s and counts documents the cluster refuses', async () => {
    const { mock, client, bulks, putMappings } = setup({ steer_latents: { type: 'sparse_vector' } });
    mock.add(
      { method: 'POST', path: '/_bulk' },
      okBulk(bulks, (id, attempt) => (id === 'd1' && attempt === 1 ? 429 : id === 'd2' ? 404 : 200)),
    );
    const result = await writeLatents(client, 'docs', docs(3), { retryWaitMs: 1 });
    assert.equal(result.written, 2);
    assert.equal(result.failed, 1);
    assert.equal(result.failures[0]!.id, 'd2');
    assert.equal(result.failures[0]!.status, 404);
    assert.equal(bulks.length, 2, 'one retry bulk for the 429');
    assert.deepEqual(
      putMappings.at(-1),
      { _meta: { steer: { latents: { steer_latents: { norm: 'l2', complete: false } } } } },
      'a document is not confirmed, so the record stays incomplete',
    );
  });

  it("a resume accepts an unfinished run's record of the same norm and completes it", async () => {
    const { mock, client, bulks, putMappings } = setup(
      { steer_latents: { type: 'sparse_vector' } },
      { steer: { latents: { steer_latents: { norm: 'l2', complete: false } } } },
    );
    mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 1 }));
    mock.add({ method: 'POST', path: '/docs/_search' }, () => ({ hits: { hits: [{ _id: 'd0' }] } }));
    mock.add({ method: 'POST', path: '/_bulk' }, okBulk(bulks));
    const result = await writeLatents(client, 'docs', docs(2), { resume: 'skip-existing' });
    assert.deepEqual([result.written, result.skipped, result.failed], [1, 1, 0]);
    assert.deepEqual(putMappings.at(-1), { _meta: L2_META });
  });

  it('a skip-existing resume of an unfinished rewrite over other latents is refused: it cannot tell them apart', async () => {
    const { mock, client, putMappings } = setup(
      { steer_latents: { type: 'sparse_vector' } },
      { steer: { latents: { steer_latents: { norm: 'l2', complete: false, replacing: true } } } },
    );
    mock.add({ method: ['GET', 'POST'], path: '/docs/_count' }, () => ({ count: 3 }));
    await assert.rejects(
      writeLatents(client, 'docs', docs(2), { resume: 'skip-existing' }),
      /partly rewritten with --latent-norm l2 by a run that did not finish, over latents of another or no recorded normalisation.*rerun without --resume/,
    );
    assert.deepEqual(putMappings, []);
  });

  it('skip-existing asks which ids already hold the field and skips them', async () => {
    const { mock, client, bulks } = setup({ steer_latents: { type: 'sparse_vector' } });
    let askedFor: unknown;
    mock.add({ method: 'POST', path: '/docs/_search' }, (p) => {
      askedFor = p.body;
      return { hits: { hits: [{ _id: 'd0' }, { _id: 'd2' }] } };
    });
    mock.add({ method: 'POST', path: '/_bulk' }, okBulk(bulks));
    const result = await writeLatents(client, 'docs', docs(4), { resume: 'skip-existing' });
    assert.deepEqual(askedFor, {
      size: 4,
      _source: false,
      query: {
        bool: {
          filter: [{ ids: { values: ['d0', 'd1', 'd2', 'd3'] } }, { exists: { field: 'steer_latents' } }],
        },
      },
    });
    assert.equal(result.written, 2);
    assert.equal(result.skipped, 2);
    assert.deepEqual(
      bulks
        .flat()
        .filter((_, i) => i % 2 === 0)
        .map((l) => (l.update as { _id: string })._id),
      ['d1', 'd3'],
    );
  });

  it('checkpoint: keeps the confirmed prefix when documents fail, resumes after it, removes the file when done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steer-latents-'));
    const checkpointFile = join(dir, 'latents.checkpoint.json');
    try {
      const first = setup({ steer_latents: { type: 'sparse_vector' } });
      first.mock.add(
        { method: 'POST', path: '/_bulk' },
        okBulk(first.bulks, (id) => (id === 'd3' ? 500 : 200)),
      );
      const r1 = await writeLatents(first.client, 'docs', docs(6), { resume: 'checkpoint', checkpointFile });
      assert.equal(r1.failed, 1);
      assert.deepEqual(JSON.parse(readFileSync(checkpointFile, 'utf8')), {
        index: 'docs',
        field: 'steer_latents',
        done: 3,
      });

      const second = setup({ steer_latents: { type: 'sparse_vector' } });
      second.mock.add({ method: 'POST', path: '/_bulk' }, okBulk(second.bulks));
      const r2 = await writeLatents(second.client, 'docs', docs(6), { resume: 'checkpoint', checkpointFile });
      assert.deepEqual([r2.written, r2.skipped, r2.failed], [3, 3, 0]);
      assert.deepEqual(
        second.bulks
          .flat()
          .filter((_, i) => i % 2 === 0)
          .map((l) => (l.update as { _id: string })._id),
        ['d3', 'd4', 'd5'],
      );
      assert.equal(existsSync(checkpointFile), false);

      writeFileSync(checkpointFile, JSON.stringify({ index: 'other', field: 'steer_latents', done: 2 }));
      await assert.rejects(
        writeLatents(second.client, 'docs', docs(1), { resume: 'checkpoint', checkpointFile }),
        /belongs to index 'other'/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
