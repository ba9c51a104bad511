// The order in which an epoch visits its training groups. Up to one shuffle window of groups it is one uniform
// shuffle; beyond that it is shuffled by blocks: the groups, in row order, are cut into blocks of consecutive groups,
// the blocks are shuffled, and each window of consecutive blocks is shuffled as a whole. A window then reads its
// query rows from a few regions of the files rather than from everywhere, and the order is a pure function of the
// seed and the epoch, so a resumed run visits the same groups.
import { Rng, deriveSeed } from '../rng.js';

/** Groups per block (consecutive rows read together). */
export const SHUFFLE_BLOCK = 1024;
/** Groups per shuffle window; runs with at most this many training groups get one uniform shuffle. */
export const SHUFFLE_WINDOW = 65_536;

/** The visiting order of `trainGroups` in `epoch` (0-based) for `seed`. */
export function epochOrder(trainGroups: Int32Array, seed: number, epoch: number): Int32Array {
  const rng = new Rng(deriveSeed(seed, 1000 + epoch));
  if (trainGroups.length <= SHUFFLE_WINDOW) return rng.shuffle(Int32Array.from(trainGroups));
  const sorted = Int32Array.from(trainGroups).sort();
  const blocks = Math.ceil(sorted.length / SHUFFLE_BLOCK);
  const blockOrder = rng.shuffle(Int32Array.from({ length: blocks }, (_, b) => b));
  const order = new Int32Array(sorted.length);
  let filled = 0;
  for (const b of blockOrder) {
    const block = sorted.subarray(b * SHUFFLE_BLOCK, Math.min(sorted.length, (b + 1) * SHUFFLE_BLOCK));
    order.set(block, filled);
    filled += block.length;
  }
  for (let start = 0; start < order.length; start += SHUFFLE_WINDOW) {
    rng.shuffle(order.subarray(start, Math.min(order.length, start + SHUFFLE_WINDOW)));
  }
  return order;
}
