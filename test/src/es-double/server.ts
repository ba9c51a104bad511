// The HTTP side of the Elasticsearch TEST DOUBLE: node:http, the REST routes, and Elasticsearch's answer shapes.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody, EsHttpError, indexNotFound, isObject, validationError } from './errors.js';
import type { JsonObject } from './errors.js';
import { DoubleCluster, parseJsonBody } from './cluster.js';
import { excludesSourceVectors, vectorFieldPaths, withoutPaths } from './documents.js';
import { parseTimeValue, PointsInTime } from './pit.js';
import { pitClause, runSearch } from './search.js';
import type { SearchScope } from './search.js';
import { runQuery } from './query.js';
import { clusterInfo, licenceInfo, VERSIONS } from './versions.js';
import type { EsDoubleLicence, EsDoubleVersion, VersionBehaviour } from './versions.js';
import {
  checkContentType,
  decodeBody,
  encodeResponse,
  MAX_CONTENT_LENGTH,
  PlainHttpError,
  responseContentType,
} from './wire.js';

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
  /**
   * The release line to behave like (default 8.19): its `GET /` version, sparse_vector pruning defaults
   * (8.19, 9.2), vectors left out of `_source` (9.2), RRF tie-breaks (8.15), REST compatibility headers.
   */
  version?: EsDoubleVersion;
  /** The licence `GET /_license` reports and features are checked against (default basic, as a new cluster). */
  licence?: EsDoubleLicence;
  /** False: `GET /_license` answers 403, as to credentials without the monitor privilege (default true). */
  licenceReadable?: boolean;
  /** `http.max_content_length` in bytes (default 100 MB); larger bodies get 413 (417 to `Expect: 100-continue`). */
  maxContentLength?: number;
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
    private readonly behaviour: VersionBehaviour,
    private readonly licence: EsDoubleLicence,
  ) {}

  route(method: string, path: string, params: URLSearchParams, text: string): Answer {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const [first, second] = parts;
    const cluster = this.cluster;
    if (parts.length === 0) {
      if (method === 'GET' || method === 'HEAD') return { status: 200, body: clusterInfo(this.behaviour) };
    } else if (first === '_license' && parts.length === 1 && method === 'GET') {
      if (this.options.licenceReadable === false) {
        throw new EsHttpError(
          403,
          'security_exception',
          'action [cluster:monitor/xpack/license/get] is unauthorized for user [steer] with effective roles [reader]',
        );
      }
      return { status: 200, body: licenceInfo(this.licence) };
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
    if (action === '_settings' && parts.length === 2 && method === 'GET') return this.settings(name, params);
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

  /** `GET /<index>/_settings`, nested or `flat_settings`, with `include_defaults`. */
  private settings(name: string, params: URLSearchParams): Answer {
    const flat = params.get('flat_settings') === 'true';
    const out: JsonObject = {};
    for (const index of this.cluster.resolve(name)) {
      const settings: Record<string, string> = {
        number_of_shards: '1',
        number_of_replicas: '1',
        provided_name: index.name,
        uuid: `double-${index.name}`,
        'version.created': index.created.indexVersion,
      };
      for (const [key, value] of Object.entries(index.settings)) settings[key] = String(value);
      const defaults: Record<string, string> = {
        max_result_window: '10000',
        'mapping.exclude_source_vectors': String(index.created.excludeSourceVectors),
      };
      for (const key of Object.keys(settings)) delete defaults[key];
      const shape = (values: Record<string, string>): JsonObject => {
        if (flat) return Object.fromEntries(Object.entries(values).map(([k, v]) => [`index.${k}`, v]));
        const nested: JsonObject = {};
        for (const [key, value] of Object.entries(values)) {
          let node = nested;
          const parts = key.split('.');
          for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as JsonObject;
          node[parts.at(-1)!] = value;
        }
        return { index: nested };
      };
      out[index.name] = {
        settings: shape(settings),
        ...(params.get('include_defaults') === 'true' ? { defaults: shape(defaults) } : {}),
      };
    }
    return { status: 200, body: out };
  }

  private putMapping(name: string, text: string): Answer {
    const index = this.cluster.get(name);
    const body = parseJsonBody(text);
    if (isObject(body.properties)) this.cluster.checkMappings(body.properties);
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
      const index = cluster.get(name);
      const doc = index.docs.get(id);
      if (!doc) return { status: 404, body: { _index: name, _id: id, found: false } };
      const explicit = params.get('_source_exclude_vectors');
      const exclude = explicit === null ? excludesSourceVectors(index) : explicit !== 'false';
      const source = exclude ? withoutPaths(doc.source, vectorFieldPaths(index)) : doc.source;
      return {
        status: 200,
        body: { _index: name, _id: id, _version: doc.version, found: true, _source: source },
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
    const scope: SearchScope = {
      indexes: [],
      models: this.options.models,
      behaviour: this.behaviour,
      licence: this.licence,
      params,
    };
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
  const behaviour = VERSIONS[options.version ?? '8.19'];
  const cluster = new DoubleCluster(behaviour);
  const pits = new PointsInTime();
  const router = new Router(cluster, pits, options, behaviour, options.licence ?? 'basic');
  const requests: RecordedRequest[] = [];
  const recordLast = options.recordLast ?? 50;
  const maxContentLength = options.maxContentLength ?? MAX_CONTENT_LENGTH;

  const answer = (
    req: IncomingMessage,
    url: URL,
    raw: Buffer,
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
      checkContentType(req.headers, raw.length > 0, behaviour.major);
      const text = decodeBody(raw, req.headers['content-encoding']).toString('utf8');
      return router.route(req.method ?? 'GET', url.pathname, url.searchParams, text);
    } catch (error) {
      if (error instanceof PlainHttpError) return { status: error.status, body: error.body() };
      const esError =
        error instanceof EsHttpError
          ? error
          : new EsHttpError(500, 'exception', String((error as Error).stack ?? error));
      return { status: esError.status, body: errorBody(esError) };
    }
  };

  const send = (req: IncomingMessage, res: ServerResponse, status: number, body?: JsonObject): void => {
    res.statusCode = status;
    res.setHeader('x-elastic-product', 'Elasticsearch');
    if (body === undefined) {
      res.setHeader('content-length', 0);
      res.end();
      return;
    }
    const encoded = encodeResponse(Buffer.from(JSON.stringify(body)), req.headers['accept-encoding']);
    res.setHeader('content-type', responseContentType(req.headers));
    if (encoded.encoding) res.setHeader('content-encoding', encoded.encoding);
    res.setHeader('content-length', encoded.body.length);
    res.end(req.method === 'HEAD' ? undefined : encoded.body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const declared = Number(req.headers['content-length']);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size <= maxContentLength) chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://double');
    const raw = Buffer.concat(chunks);
    requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: raw.toString('utf8'),
    });
    if (requests.length > recordLast) requests.shift();
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    if (size > maxContentLength || declared > maxContentLength) {
      // Elasticsearch (Netty's HttpObjectAggregator) answers 413 with an empty body.
      send(req, res, 413);
      return;
    }
    const { status, body, headers } = answer(req, url, raw);
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    send(req, res, status, body);
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
  server.on('checkContinue', (req, res) => {
    if (Number(req.headers['content-length']) > maxContentLength) {
      // NOTE: Elasticsearch refuses the 100-continue of an oversized body with 417, not 413.
      res.writeHead(417, { 'x-elastic-product': 'Elasticsearch', 'content-length': 0, connection: 'close' });
      res.end();
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
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
