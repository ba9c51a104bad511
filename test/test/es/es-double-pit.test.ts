// Points in time in the Elasticsearch TEST DOUBLE, driven by the official client as a reader of stored vectors
// would: open, page with sort + search_after (sliced or not), close; and the errors Elasticsearch gives.
/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read parsed JSON error answers loosely */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { startEsDouble } from '../../src/index.js';
import type { EsDouble } from '../../src/index.js';

const DOCS = 23;

/** Reads every hit of a PIT in pages of `size`, following the last hit's sort values. */
async function readAll(
  client: Client,
  pit: string,
  size: number,
  extra: Partial<estypes.SearchRequest> = {},
): Promise<estypes.SearchHit<Record<string, unknown>>[]> {
  const out: estypes.SearchHit<Record<string, unknown>>[] = [];
  let searchAfter: estypes.SortResults | undefined;
  let id = pit;
  for (;;) {
    const page = await client.search<Record<string, unknown>>({
      pit: { id, keep_alive: '1m' },
      sort: ['_shard_doc'],
      size,
      track_total_hits: false,
      ...(searchAfter ? { search_after: searchAfter } : {}),
      ...extra,
    });
    id = page.pit_id!;
    if (page.hits.hits.length === 0) return out;
    out.push(...page.hits.hits);
    searchAfter = page.hits.hits.at(-1)!.sort;
  }
}

async function status(promise: Promise<unknown>): Promise<{ status: number; type: string; body: any }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof errors.ResponseError, String(error));
    const body = error.body as any;
    return { status: error.statusCode!, type: body?.error?.root_cause?.[0]?.type ?? '', body };
  }
  assert.fail('expected an error answer');
}

describe('Elasticsearch TEST DOUBLE: point in time, sort and search_after', () => {
  let double: EsDouble;
  let client: Client;
  before(async () => {
    double = await startEsDouble();
    client = new Client({ node: double.url });
    await client.indices.create({
      index: 'vectors',
      mappings: {
        properties: {
          v: { type: 'dense_vector', dims: 2, similarity: 'cosine' },
          group: { type: 'keyword' },
          n: { type: 'integer' },
        },
      },
    });
    await client.bulk({
      refresh: true,
      operations: Array.from({ length: DOCS }, (_, i) => [
        { index: { _index: 'vectors', _id: `d${i}` } },
        { v: [1, i + 1], group: i % 3 === 0 ? 'a' : 'b', n: i % 5 },
      ]).flat(),
    });
  });
  after(async () => {
    await client.close();
    await double.close();
  });

  it('pages a frozen view with _shard_doc + search_after: every document once, in index order', async () => {
    await client.bulk({
      refresh: true,
      operations: Array.from({ length: 7 }, (_, i) => [
        { index: { _index: 'frozen', _id: `f${i}` } },
        { v: [1, i + 1], group: 'x' },
      ]).flat(),
    });
    const { id } = await client.openPointInTime({ index: 'frozen', keep_alive: '1m' });
    // Writes after the PIT opens are invisible to it.
    await client.index({ index: 'frozen', id: 'late', document: { v: [1, 0], group: 'y' }, refresh: true });
    await client.update({ index: 'frozen', id: 'f0', doc: { group: 'changed' }, refresh: true });
    const hits = await readAll(client, id, 3);
    assert.deepEqual(
      hits.map((h) => h._id),
      Array.from({ length: 7 }, (_, i) => `f${i}`),
    );
    assert.equal(hits[0]!._source!.group, 'x', 'the PIT keeps the source as it was when opened');
    assert.ok(
      hits.every((h) => h._source && Array.isArray(h._source.v)),
      'stored vectors come back in _source',
    );
    assert.deepEqual(
      hits.map((h) => h.sort![0]),
      hits.map((_, i) => i),
      '_shard_doc of shard 0 is the Lucene doc id',
    );
    const live = await client.search({ index: 'frozen', size: 10, sort: ['_doc'] });
    assert.deepEqual(
      live.hits.hits.map((h) => h._id),
      ['f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'late', 'f0'],
      'an update is a new Lucene document, at the end of index order',
    );
    const closed = await client.closePointInTime({ id });
    assert.deepEqual(closed, { succeeded: true, num_freed: 1 });
    assert.equal(double.openPointsInTime(), 0);
  });

  it('slices split the view into disjoint parts that cover it, each paged on its own', async () => {
    const { id } = await client.openPointInTime({ index: 'vectors', keep_alive: '1m' });
    const seen = new Map<string, number>();
    for (let slice = 0; slice < 3; slice++) {
      const hits = await readAll(client, id, 4, { slice: { id: String(slice), max: 3 } });
      assert.ok(hits.length > 0, `slice ${slice} is not empty`);
      for (const hit of hits) {
        assert.equal(seen.has(hit._id!), false, `${hit._id} appears in two slices`);
        seen.set(hit._id!, slice);
      }
    }
    assert.equal(seen.size, DOCS);
    await client.closePointInTime({ id });
  });

  it('adds the implicit _shard_doc tiebreaker to sorted PIT searches, as Elasticsearch does', async () => {
    const { id } = await client.openPointInTime({ index: 'vectors', keep_alive: '1m' });
    const first = await client.search({ pit: { id }, sort: [{ n: 'desc' }], size: 4 });
    assert.deepEqual(
      first.hits.hits.map((h) => h.sort),
      [
        [4, 4],
        [4, 9],
        [4, 14],
        [4, 19],
      ],
    );
    assert.equal(first.hits.hits[0]!._score, null, 'no scores when sorting on a field');
    // Paging on (n, tiebreaker) visits every document once even though n repeats.
    const all = await readAll(client, id, 3, { sort: [{ n: 'asc' }] });
    assert.equal(new Set(all.map((h) => h._id)).size, DOCS);
    const ns = all.map((h) => h._source!.n as number);
    assert.deepEqual(
      ns,
      [...ns].sort((a, b) => a - b),
    );
    // search_after with as many values as the explicit sort: no tiebreaker, equal values are skipped.
    const after = await client.search({ pit: { id }, sort: [{ n: 'asc' }], search_after: [3], size: 100 });
    assert.ok(after.hits.hits.every((h) => (h._source as { n: number }).n === 4));
    assert.deepEqual(after.hits.hits[0]!.sort, [4]);
    // Without sort: by score, no sort values.
    const unsorted = await client.search({ pit: { id }, size: 2 });
    assert.equal(unsorted.hits.hits[0]!.sort, undefined);
    assert.equal(unsorted.hits.hits[0]!._score, 1);
    await client.closePointInTime({ id });
  });

  it('sorts without a PIT on keyword and numeric fields, with search_after and missing values last', async () => {
    const sorted = await client.search({
      index: 'vectors',
      sort: [{ group: 'desc' }, { n: { order: 'asc' } }, '_doc'],
      size: 30,
    });
    const keys = sorted.hits.hits.map((h) => h.sort!);
    assert.equal(keys[0]![0], 'b');
    for (let i = 1; i < keys.length; i++) {
      const [g0, n0, d0] = keys[i - 1] as [string, number, number];
      const [g1, n1, d1] = keys[i] as [string, number, number];
      assert.ok(g0 > g1 || (g0 === g1 && (n0 < n1 || (n0 === n1 && d0 < d1))), `order at ${i}`);
    }
    const page = await client.search({
      index: 'vectors',
      sort: [{ group: 'desc' }, { n: 'asc' }, '_doc'],
      search_after: keys[9],
      size: 30,
    });
    assert.deepEqual(
      page.hits.hits.map((h) => h._id),
      sorted.hits.hits.slice(10).map((h) => h._id),
    );
    await client.index({ index: 'vectors', id: 'no-n', document: { v: [2, 1], group: 'z' }, refresh: true });
    const missing = await client.search({ index: 'vectors', sort: [{ n: 'desc' }], size: 100 });
    assert.equal(missing.hits.hits.at(-1)!._id, 'no-n');
    assert.deepEqual(missing.hits.hits.at(-1)!.sort, [null]);
    await client.delete({ index: 'vectors', id: 'no-n', refresh: true });
  });

  it('answers misuse with the status and error type Elasticsearch gives', async () => {
    const { id } = await client.openPointInTime({ index: 'vectors', keep_alive: '1m' });
    const withIndex = await status(client.search({ index: 'vectors', pit: { id } }));
    assert.equal(withIndex.status, 400);
    assert.equal(withIndex.type, 'action_request_validation_exception');
    assert.match(withIndex.body.error.reason, /\[indices\] cannot be used with point in time/);

    const sliceAlone = await status(client.search({ index: 'vectors', slice: { id: '0', max: 2 } }));
    assert.equal(sliceAlone.status, 400);
    assert.match(
      sliceAlone.body.error.reason,
      /\[slice\] can only be used with \[scroll\] or \[point-in-time\]/,
    );

    const shardDoc = await status(client.search({ index: 'vectors', sort: ['_shard_doc'] }));
    assert.equal(shardDoc.status, 400);
    assert.match(
      shardDoc.body.error.reason,
      /\[_shard_doc\] sort field cannot be used without \[point in time\]/,
    );

    const mismatch = await status(client.search({ pit: { id }, sort: ['_shard_doc'], search_after: [1, 2] }));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error.type, 'search_phase_execution_exception');
    assert.equal(mismatch.type, 'illegal_argument_exception');
    assert.match(mismatch.body.error.root_cause[0].reason, /search_after has 2 value\(s\) but sort has 1\./);

    const noSort = await status(client.search({ index: 'vectors', search_after: [1] }));
    assert.match(noSort.body.error.root_cause[0].reason, /Sort must contain at least one field/);

    const fromAndAfter = await status(
      client.search({ index: 'vectors', sort: ['_doc'], search_after: [1], from: 2 }),
    );
    assert.match(
      fromAndAfter.body.error.reason,
      /\[from\] parameter must be set to 0 when \[search_after\] is used/,
    );

    const textSort = await status(client.search({ index: 'vectors', sort: ['nope'] }));
    assert.equal(textSort.type, 'query_shard_exception');
    assert.match(
      textSort.body.error.root_cause[0].reason,
      /No mapping found for \[nope\] in order to sort on/,
    );

    const noKeepAlive = await status(client.transport.request({ method: 'POST', path: '/vectors/_pit' }));
    assert.equal(noKeepAlive.status, 400);
    assert.match(noKeepAlive.body.error.reason, /\[keep_alive\] is not specified/);

    const badKeepAlive = await status(client.openPointInTime({ index: 'vectors', keep_alive: '5 minutes' }));
    assert.equal(badKeepAlive.type, 'parse_exception');

    const missingIndex = await status(client.openPointInTime({ index: 'nope', keep_alive: '1m' }));
    assert.equal(missingIndex.status, 404);
    assert.equal(missingIndex.type, 'index_not_found_exception');

    const garbage = await status(client.search({ pit: { id: 'not-a-pit' } }));
    assert.equal(garbage.status, 400);
    assert.equal(garbage.type, 'illegal_argument_exception');

    await client.closePointInTime({ id });
    const gone = await status(client.search({ pit: { id }, sort: ['_shard_doc'] }));
    assert.equal(gone.status, 404);
    assert.equal(gone.type, 'search_context_missing_exception');
    // Closing twice: 404 with Elasticsearch's body (not an error object), which the client raises.
    const again = await status(client.closePointInTime({ id }));
    assert.equal(again.status, 404);
    assert.deepEqual(again.body, { succeeded: false, num_freed: 0 });
  });

  it('a PIT expires keep_alive after its last use', async () => {
    const { id } = await client.openPointInTime({ index: 'vectors', keep_alive: '200ms' });
    // Each use extends it by the keep_alive it carries.
    const open = double.openPointsInTime();
    await client.search({ pit: { id, keep_alive: '200ms' }, size: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(double.openPointsInTime(), open - 1);
    const expired = await status(client.search({ pit: { id }, size: 1 }));
    assert.equal(expired.type, 'search_context_missing_exception');
  });

  it('keeps the result window at index.max_result_window', async () => {
    const window = await status(client.search({ index: 'vectors', from: 9_995, size: 10 }));
    assert.equal(window.status, 400);
    assert.match(
      window.body.error.root_cause[0].reason,
      /Result window is too large, from \+ size must be less than or equal to: \[10000\] but was \[10005\]/,
    );
  });
});
