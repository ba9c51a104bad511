// What the bridge learns from the upstream for steered searches, per caller credentials and briefly cached: the
// cluster's version (refused below 8.15), whether it refused RRF for its licence, and indexes' vector fields.
import { SteerError } from '@steer/core';
import type { IncomingHttpHeaders } from 'node:http';
import { denseVectorFields, MIN_SUPPORTED_VERSION, parseVersion, versionAtLeast } from '@steer/elasticsearch';
import type { DenseVectorField } from '@steer/elasticsearch';
import { BridgeHttpError } from './es-errors.js';
import { endToEndHeaders } from './upstream.js';
import type { HeaderMap, ReadAnswer, Upstream } from './upstream.js';

/** An upstream answer relayed as is (e.g. the 404 of `_mapping` for a missing index). */
export class RelayedAnswer extends SteerError {
  constructor(readonly answer: ReadAnswer) {
    super('bridge', 'relayed_answer', `upstream answered ${answer.status}`, { kind: 'internal' });
    this.name = 'RelayedAnswer';
  }
}

export interface IndexFields {
  fields: DenseVectorField[];
  mappings: unknown[];
}

interface ClusterFacts {
  version?: string;
  /** Set once the cluster refused the rrf retriever for its licence: hybrid searches are fused by the bridge. */
  rrfRefused: boolean;
}

interface Cached<T> {
  expires: number;
  value: T;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Per-credential knowledge of the upstream, kept for `cacheMs`. */
export class UpstreamFacts {
  private readonly clusters = new Map<string, Cached<ClusterFacts>>();
  private readonly indexes = new Map<string, Cached<IndexFields>>();

  constructor(
    private readonly upstream: Upstream,
    private readonly cacheMs: number,
    private readonly upstreamAuthorization: string | undefined,
  ) {}

  /** Headers of a request the bridge makes itself for a caller: the caller's credentials, JSON, compressed. */
  ownHeaders(incoming: IncomingHttpHeaders): HeaderMap {
    const headers = endToEndHeaders(incoming);
    for (const name of Object.keys(headers)) if (name.startsWith('content-')) delete headers[name];
    if (headers.authorization === undefined && this.upstreamAuthorization)
      headers.authorization = this.upstreamAuthorization;
    headers.accept = 'application/json';
    headers['accept-encoding'] = 'gzip';
    return headers;
  }

  private key(incoming: IncomingHttpHeaders): string {
    return String(incoming.authorization ?? this.upstreamAuthorization ?? '');
  }

  private remember<T>(map: Map<string, Cached<T>>, key: string, value: T): T {
    if (map.size > 1000) map.clear();
    map.set(key, { expires: Date.now() + this.cacheMs, value });
    return value;
  }

  /**
   * The cluster's facts for this caller; reads `GET /` the first time. Throws BridgeHttpError 400 when the
   * upstream runs a version below 8.15 (an answer other than 200 leaves the version unknown).
   */
  async cluster(incoming: IncomingHttpHeaders): Promise<ClusterFacts> {
    const key = this.key(incoming);
    const cached = this.clusters.get(key);
    if (cached && cached.expires > Date.now()) return cached.value;
    const answer = await this.upstream.read('GET', '/', this.ownHeaders(incoming));
    const facts: ClusterFacts = { rrfRefused: false };
    if (answer.status === 200) {
      try {
        const info = JSON.parse(answer.body.toString('utf8')) as {
          version?: { number?: string; build_flavor?: string };
        };
        facts.version = info.version?.number;
        const serverless = info.version?.build_flavor === 'serverless';
        const version = parseVersion(facts.version ?? '');
        if (!serverless && !Number.isNaN(version.major) && !versionAtLeast(version, MIN_SUPPORTED_VERSION)) {
          throw new BridgeHttpError(
            400,
            'illegal_argument_exception',
            `[steer] the upstream runs Elasticsearch ${facts.version}, but steered searches need ${MIN_SUPPORTED_VERSION} or later (the sparse_vector query and the rrf retriever); upgrade the cluster`,
          );
        }
      } catch (error) {
        if (error instanceof BridgeHttpError) throw error;
      }
    }
    return this.remember(this.clusters, key, facts);
  }

  /** Records that the cluster refused RRF for this caller's credentials (its licence lacks it). */
  refuseRrf(incoming: IncomingHttpHeaders): void {
    const cached = this.clusters.get(this.key(incoming));
    if (cached) cached.value.rrfRefused = true;
  }

  /** dense_vector fields (and raw mappings) of `index` (all indexes when undefined), from `_mapping`. */
  async indexFields(index: string | undefined, incoming: IncomingHttpHeaders): Promise<IndexFields> {
    const key = `${index ?? ''}\u0000${this.key(incoming)}`;
    const cached = this.indexes.get(key);
    if (cached && cached.expires > Date.now()) return cached.value;
    const path =
      index === undefined
        ? '/_mapping'
        : `/${encodeURIComponent(index).replace(/%2C/gi, ',').replace(/%2A/gi, '*')}/_mapping`;
    const answer = await this.upstream.read('GET', path, this.ownHeaders(incoming));
    if (answer.status !== 200) throw new RelayedAnswer(answer);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new BridgeHttpError(
        502,
        'steer_bridge_exception',
        `steer bridge: the upstream's _mapping answer is not JSON`,
      );
    }
    const mappings = isObject(parsed)
      ? Object.values(parsed).map((entry) => (isObject(entry) ? entry.mappings : undefined))
      : [];
    const byPath = new Map<string, DenseVectorField>();
    for (const mapping of mappings)
      for (const field of denseVectorFields(mapping))
        if (!byPath.has(field.path)) byPath.set(field.path, field);
    return this.remember(this.indexes, key, { fields: [...byPath.values()], mappings });
  }
}
