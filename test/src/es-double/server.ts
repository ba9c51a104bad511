// The HTTP side of the Elasticsearch TEST DOUBLE: node:http, the REST routes, and Elasticsearch's answer shapes.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, EsHttpError, indexNotFound, isObject, validationError } from './errors.js';
import type { JsonObject } from './errors.js';
import { DoubleCluster, parseJsonBody } from './cluster.js';
import { parseTimeValue, PointsInTime } from './pit.js';
import { pitClause, runSearch } from './search.js';
import type { SearchScope } from './search.js';
import { runQuery } from './query.js';

/** One request as the double saw it (for assertions on what a client or the bridge sent). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface EsDoubleOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Deployed "models" for `query_vector_builder.text_embedding`: model id -> text embedder.
   * The double runs them in-process in place of Elasticsearch's ML nodes.
   */
  models?: Record<string, (text: string) => number[]>;
  /** When set, every request needs this `authorization` header value, else 401 as Elasticsearch answers it. */
  requireAuthorization?: string;
  /** Milliseconds to wait before answering each request (a slow cluster). */
  latencyMs?: number;
  /** Keep the last N requests in `requests` (default 50). */
  recordLast?: number;
}

/** A running test double. */
export interface EsDouble {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  server: Server;
  /** The most recent requests, oldest first. */
  requests: RecordedRequest[];
  /** Source of a stored document, for assertions; undefined when absent. */
  getSource(index: string, id: string): JsonObject | undefined;
  /** Points in time still open (neither closed nor expired). */
  openPointsInTime(): number;
  close(): Promise<void>;
}

const CLUSTER_INFO = {
  name: 'es-test-double',
  cluster_name: 'steer-es-test-double',
  cluster_uuid: 'es-test-double',
  version: {
    number: '8.19.1',
    build_flavor: 'default',
    lucene_version: '9.12.0',
    minimum_wire_compatibility_version: '7.17.0',
    minimum_index_compatibility_version: '7.0.0',
  },
  tagline: 'You Know, for Search (test double)',
};

interface Answer {
  status: number;
  body?: JsonObject;
}

const SHARDS_OK = { total: 1, successful: 1, skipped: 0, failed: 0 };

/** Routes one request of a double; throws EsHttpError for Elasticsearch's error answers. */
class Router {
  constructor(
    private readonly cluster: DoubleCluster,
    private readonly pits: PointsInTime,
    private readonly options: EsDoubleOptions,
  ) {}

  route(method: string, path: string, params: URLSearchParams, text: string): Answer {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [first, second] = parts;
    const cluster = this.cluster;
    if (parts.length === 0) {
      if (method === 'GET' || method === 'HEAD') return { status: 200, body: CLUSTER_INFO };
    } else if (first === '_bulk' && parts.length === 1 && (method === 'POST' || method === 'PUT')) {
      return { status: 200, body: cluster.bulk(undefined, text) };
    } else if (first === '_mapping' && parts.length === 1 && method === 'GET') {
      const out: JsonObject = {};
      for (const index of cluster.indices.values()) out[index.name] = { mappings: index.mappings };
      return { status: 200, body: out };
    } else if (first === '_refresh' && parts.length === 1) {
      return { status: 200, body: { _shards: SHARDS_OK } };
    } else if (first === '_search' && parts.length === 1 && (method === 'GET' || method === 'POST')) {
      return { status: 200, body: this.search(undefined, params, text) };
    } else if (first === '_pit' && parts.length === 1) {
      if (method === 'DELETE') return this.closePointInTime(text);
      if (method === 'POST') throw validationError(['[index] is not specified']);
    } else if (first === '_cat' && second === 'indices') {
      const rows = [...cluster.indices.values()].map((i) => ({
        health: 'green',
        status: 'open',
        index: i.name,
        'docs.count': String(i.docs.size),
      }));
      return { status: 200, body: rows as unknown as JsonObject };
    } else if (first !== undefined && !first.startsWith('_')) {
      return this.indexRoute(method, parts, params, text) ?? this.notAllowed(method, path);
    }
    return this.notAllowed(method, path);
  }

  private notAllowed(method: string, path: string): never {
    throw new EsHttpError(
      405,
      'method_not_allowed',
      `Incorrect HTTP method for uri [${path}] and method [${method}] (or not supported by the test double)`,
    );
  }

  private indexRoute(
    method: string,
    parts: string[],
    params: URLSearchParams,
    text: string,
  ): Answer | undefined {
    const cluster = this.cluster;
    const [name, action, id] = parts as [string, string | undefined, string | undefined];
    if (parts.length === 1) {
      if (method === 'PUT') return { status: 200, body: cluster.create(name, parseJsonBody(text)) };
      if (method === 'HEAD') return { status: cluster.indices.has(name) ? 200 : 404 };
      if (method === 'DELETE') {
        if (!cluster.indices.delete(name)) throw indexNotFound(name);
        return { status: 200, body: { acknowledged: true } };
      }
      if (method === 'GET') {
        const index = cluster.get(name);
        return {
          status: 200,
          body: { [name]: { aliases: {}, mappings: index.mappings, settings: { index: index.settings } } },
        };
      }
      return undefined;
    }
    if (action === '_mapping' && parts.length === 2) {
      if (method === 'GET') {
        const out: JsonObject = {};
        for (const index of cluster.resolve(name)) out[index.name] = { mappings: index.mappings };
        return { status: 200, body: out };
      }
      if (method === 'PUT' || method === 'POST') return this.putMapping(name, text);
    }
    if (action === '_bulk' && parts.length === 2 && (method === 'POST' || method === 'PUT')) {
      return { status: 200, body: cluster.bulk(name, text) };
    }
    if (action === '_refresh') {
      cluster.resolve(name);
      return { status: 200, body: { _shards: SHARDS_OK } };
    }
    if (action === '_count' && parts.length === 2 && (method === 'GET' || method === 'POST')) {
      const body = parseJsonBody(text);
      let count = 0;
      for (const index of cluster.resolve(name)) {
        count +=
          body.query === undefined
            ? index.docs.size
            : runQuery({ index, models: this.options.models }, [...index.docs.values()], body.query).size;
      }
      return { status: 200, body: { count, _shards: SHARDS_OK } };
    }
    if (action === '_search' && parts.length === 2 && (method === 'GET' || method === 'POST')) {
      return { status: 200, body: this.search(name, params, text) };
    }
    if (action === '_pit' && parts.length === 2 && method === 'POST') {
      return this.openPointInTime(name, params, text);
    }
    if (action === '_doc' && id !== undefined && parts.length === 3)
      return this.docRoute(method, name, id, params, text);
    if (action === '_update' && id !== undefined && parts.length === 3 && method === 'POST') {
      const result = cluster.updateDoc(cluster.get(name), id, parseJsonBody(text));
      return { status: result.status as number, body: result };
    }
    return undefined;
  }

  private putMapping(name: string, text: string): Answer {
    const index = this.cluster.get(name);
    const body = parseJsonBody(text);
    if (isObject(body.properties)) {
      for (const [field, mapping] of Object.entries(body.properties)) {
        const current = index.mappings.properties[field];
        if (isObject(current) && isObject(mapping) && current.type !== mapping.type) {
          throw new EsHttpError(
            400,
            'illegal_argument_exception',
            `mapper [${field}] cannot be changed from type [${String(current.type)}] to [${String(mapping.type)}]`,
          );
        }
        index.mappings.properties[field] = mapping;
      }
    }
    if (isObject(body._meta)) index.mappings._meta = body._meta;
    return { status: 200, body: { acknowledged: true } };
  }

  private docRoute(
    method: string,
    name: string,
    id: string,
    params: URLSearchParams,
    text: string,
  ): Answer | undefined {
    const cluster = this.cluster;
    if (method === 'GET' || method === 'HEAD') {
      const doc = cluster.get(name).docs.get(id);
      if (!doc) return { status: 404, body: { _index: name, _id: id, found: false } };
      return {
        status: 200,
        body: { _index: name, _id: id, _version: doc.version, found: true, _source: doc.source },
      };
    }
    if (method === 'PUT' || method === 'POST') {
      if (!cluster.indices.has(name)) cluster.create(name, {});
      const result = cluster.indexDoc(
        cluster.get(name),
        id,
        parseJsonBody(text),
        params.get('op_type') === 'create' ? 'create' : 'index',
      );
      return { status: result.status as number, body: result };
    }
    if (method === 'DELETE') {
      const found = cluster.deleteDoc(cluster.get(name), id);
      return {
        status: found ? 200 : 404,
        body: { _index: name, _id: id, result: found ? 'deleted' : 'not_found' },
      };
    }
    return undefined;
  }

  private search(target: string | undefined, params: URLSearchParams, text: string): JsonObject {
    const body = parseJsonBody(text);
    const pit = pitClause(body);
    const scope: SearchScope = { indexes: [], models: this.options.models, params };
    if (pit) {
      if (target !== undefined) {
        throw validationError([
          '[indices] cannot be used with point in time. Do not specify any index with point in time.',
        ]);
      }
      const keepAlive = pit.keepAlive === undefined ? undefined : parseTimeValue(pit.keepAlive, 'keep_alive');
      scope.indexes = this.pits.use(pit.id, keepAlive);
      scope.pitId = pit.id;
    } else {
      scope.indexes = this.cluster.resolve(target ?? '_all');
    }
    return runSearch(scope, body);
  }

  private openPointInTime(target: string, params: URLSearchParams, text: string): Answer {
    const keepAlive = params.get('keep_alive');
    if (keepAlive === null) throw validationError(['[keep_alive] is not specified']);
    const keepAliveMs = parseTimeValue(keepAlive, 'keep_alive');
    const body = parseJsonBody(text);
    for (const key of Object.keys(body)) {
      if (key !== 'index_filter')
        throw new EsHttpError(400, 'parsing_exception', `request does not support [${key}]`);
    }
    const indexes = this.cluster.resolve(target);
    const id = this.pits.openOn(indexes, keepAliveMs);
    const shards = { total: indexes.length, successful: indexes.length, skipped: 0, failed: 0 };
    return { status: 200, body: { id, _shards: shards } };
  }

  private closePointInTime(text: string): Answer {
    const body = parseJsonBody(text);
    if (typeof body.id !== 'string' || body.id === '') throw validationError(['[id] is not specified']);
    const freed = this.pits.close(body.id);
    // NOTE: Elasticsearch answers an unknown PIT with 404 and this body, not with an error object.
    return { status: freed ? 200 : 404, body: { succeeded: freed, num_freed: freed ? 1 : 0 } };
  }
}

/** Starts the Elasticsearch TEST DOUBLE on 127.0.0.1 and resolves once it listens. */
export async function startEsDouble(options: EsDoubleOptions = {}): Promise<EsDouble> {
  const cluster = new DoubleCluster();
  const pits = new PointsInTime();
  const router = new Router(cluster, pits, options);
  const requests: RecordedRequest[] = [];
  const recordLast = options.recordLast ?? 50;

  const answer = (
    req: IncomingMessage,
    url: URL,
    text: string,
  ): Answer & { headers?: Record<string, string> } => {
    if (
      options.requireAuthorization !== undefined &&
      req.headers.authorization !== options.requireAuthorization
    ) {
      const error = new EsHttpError(
        401,
        'security_exception',
        `missing authentication credentials for REST request [${url.pathname}]`,
      );
      return {
        status: 401,
        body: errorBody(error),
        headers: { 'www-authenticate': 'Basic realm="security" charset="UTF-8"' },
      };
    }
    try {
      return router.route(req.method ?? 'GET', url.pathname, url.searchParams, text);
    } catch (error) {
      const esError =
        error instanceof EsHttpError
          ? error
          : new EsHttpError(500, 'exception', String((error as Error).stack ?? error));
      return { status: esError.status, body: errorBody(esError) };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://double');
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: text,
    });
    if (requests.length > recordLast) requests.shift();
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    const { status, body, headers } = answer(req, url, text);
    res.statusCode = status;
    res.setHeader('x-elastic-product', 'Elasticsearch');
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    if (body !== undefined) {
      const payload = Buffer.from(JSON.stringify(body));
      res.setHeader('content-type', 'application/vnd.elasticsearch+json;compatible-with=8');
      res.setHeader('content-length', payload.length);
      res.end(req.method === 'HEAD' ? undefined : payload);
    } else {
      res.setHeader('content-length', 0);
      res.end();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('x-elastic-product', 'Elasticsearch');
      }
      res.end(JSON.stringify(errorBody(new EsHttpError(500, 'exception', String(error)))));
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    getSource: (index, id) => cluster.indices.get(index)?.docs.get(id)?.source,
    openPointsInTime: () => pits.count(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
