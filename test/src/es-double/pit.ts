// Points in time of the Elasticsearch TEST DOUBLE: frozen views of indexes' documents, kept alive for
// `keep_alive` after each use, addressed by an opaque base64url id as Elasticsearch's are.
import { allShardsFailed, badRequest, EsHttpError } from './errors.js';
import type { DoubleIndex } from './documents.js';

const UNITS_MS: Record<string, number> = {
  nanos: 1e-6,
  micros: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses an Elasticsearch time value (`30s`, `1m`, `500ms`); throws the 400 parse_exception ES answers. */
export function parseTimeValue(text: string, setting: string): number {
  const match = /^(\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)$/.exec(text.trim());
  if (!match) {
    throw new EsHttpError(
      400,
      'parse_exception',
      `failed to parse setting [${setting}] with value [${text}] as a time value: unit is missing or unrecognized`,
    );
  }
  return Number(match[1]) * UNITS_MS[match[2]!]!;
}

interface PointInTime {
  /** One frozen view per index, in the order they were named. */
  views: DoubleIndex[];
  expiresAt: number;
}

const ID_PREFIX = 'es-test-double-pit:';

/** The open points in time of one double. */
export class PointsInTime {
  private readonly open = new Map<number, PointInTime>();
  private next = 1;

  /** Freezes `indexes` (their mappings and every current document) for `keepAliveMs`; returns the PIT id. */
  openOn(indexes: DoubleIndex[], keepAliveMs: number): string {
    const views = indexes.map((index) => ({
      ...index,
      mappings: structuredClone(index.mappings),
      docs: new Map([...index.docs].map(([id, doc]) => [id, { ...doc }])),
    }));
    const context = this.next++;
    this.open.set(context, { views, expiresAt: Date.now() + keepAliveMs });
    const names = indexes.map((index) => index.name).join(',');
    return Buffer.from(`${ID_PREFIX}${context}:${names}`).toString('base64url');
  }

  /**
   * The frozen indexes of a PIT id, its keep-alive extended by `keepAliveMs` when given.
   * Throws 400 for an id that is not one, 404 `search_context_missing_exception` for a closed or expired one.
   */
  use(id: string, keepAliveMs?: number): DoubleIndex[] {
    const { context, index } = this.decode(id);
    const pit = this.live(context);
    if (!pit) {
      throw allShardsFailed(
        new EsHttpError(
          404,
          'search_context_missing_exception',
          `No search context found for id [${context}]`,
        ),
        index.split(',')[0]!,
      );
    }
    if (keepAliveMs !== undefined) pit.expiresAt = Date.now() + keepAliveMs;
    return pit.views;
  }

  /** Closes a PIT; returns whether it was open (Elasticsearch answers 404 `num_freed: 0` otherwise). */
  close(id: string): boolean {
    const { context } = this.decode(id);
    const found = this.live(context) !== undefined;
    this.open.delete(context);
    return found;
  }

  /** Number of PITs still alive (Elasticsearch's `indices.search.open_contexts`). */
  count(): number {
    for (const context of [...this.open.keys()]) this.live(context);
    return this.open.size;
  }

  private live(context: number): PointInTime | undefined {
    const pit = this.open.get(context);
    if (pit && pit.expiresAt <= Date.now()) {
      this.open.delete(context);
      return undefined;
    }
    return pit;
  }

  private decode(id: string): { context: number; index: string } {
    const text = Buffer.from(id, 'base64url').toString('utf8');
    const match = new RegExp(`^${ID_PREFIX}(\\d+):(.+)$`).exec(text);
    if (!match) throw badRequest(`invalid id: [${id}]`);
    return { context: Number(match[1]), index: match[2]! };
  }
}
