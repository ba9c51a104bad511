// Shared by the backends' exact neighbour searches: turns a chunk's top indices into each query's neighbour list.

/**
 * Copies the first `m` documents of each of `rows` queries' top-`take` lists (`data` [rows, take], nearest first)
 * into `out` [nQueries, m] from query `start` on, skipping the query itself when `excludeSelf` (query i is
 * document i).
 */
export function collectNeighbours(
  data: Int32Array,
  start: number,
  rows: number,
  take: number,
  m: number,
  excludeSelf: boolean,
  out: Int32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const query = start + r;
    let filled = 0;
    for (let j = 0; j < take && filled < m; j++) {
      const doc = data[r * take + j]!;
      if (excludeSelf && doc === query) continue;
      out[query * m + filled++] = doc;
    }
  }
}
