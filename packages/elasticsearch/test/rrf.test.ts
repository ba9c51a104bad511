// Reciprocal rank fusion in Steer: Elasticsearch's float32 arithmetic and its tie-breaks, checked by hand.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fuseReciprocalRank } from '../src/index.js';

const hit = (id: string, score: number, shardDoc: number) => ({
  _index: 'i',
  _id: id,
  _score: score,
  sort: [score, shardDoc],
});

describe('fuseReciprocalRank', () => {
  it('sums 1 / (rank_constant + rank) in float32 and cuts to the window', () => {
    const dense = [hit('a', 0.9, 4), hit('b', 0.8, 1), hit('c', 0.7, 2)];
    const sparse = [hit('b', 3, 1), hit('d', 2, 0)];
    const fused = fuseReciprocalRank([dense, sparse], { rankWindowSize: 3 });
    assert.deepEqual(
      fused.map((f) => f.hit._id),
      ['b', 'a', 'd'],
    );
    assert.equal(fused[0]!.score, Math.fround(Math.fround(1 / 62) + Math.fround(1 / 61)));
    assert.equal(fused[1]!.score, Math.fround(1 / 61));
  });

  it('breaks equal scores by _shard_doc (8.16+), or by the children in order (8.15)', () => {
    // a is first in the dense list, d first in the sparse list: equal RRF scores.
    const dense = [hit('a', 0.9, 7)];
    const sparse = [hit('d', 2, 3)];
    assert.deepEqual(
      fuseReciprocalRank([dense, sparse], { rankWindowSize: 2 }).map((f) => f.hit._id),
      ['d', 'a'],
    );
    assert.deepEqual(
      fuseReciprocalRank([dense, sparse], { rankWindowSize: 2, legacyTieBreak: true }).map((f) => f.hit._id),
      ['a', 'd'],
    );
  });

  it('honours rank_constant and keeps the first list holding a hit as its source', () => {
    const first = [{ _index: 'i', _id: 'x', _score: 1, sort: [1, 0], _source: { from: 'first' } }];
    const second = [{ _index: 'i', _id: 'x', _score: 5, sort: [5, 0], _source: { from: 'second' } }];
    const [fused] = fuseReciprocalRank([first, second], { rankWindowSize: 1, rankConstant: 1 });
    assert.equal(fused!.score, 1);
    assert.deepEqual(fused!.hit._source, { from: 'first' });
  });
});
