// The REST routes of the Elasticsearch TEST DOUBLE: which request does what to the cluster, and Elasticsearch's
// answer shapes for them (an error answer is thrown as EsHttpError).
import { EsHttpError, indexNotFound, isObject, validationError } from './errors.js';
import type { JsonObject } from './errors.js';
import { parseJsonBody } from './cluster.js';
import type { DoubleCluster } from './cluster.js';
import { excludesSourceVectors, vectorFieldPaths, withoutPaths } from './documents.js';
import { parseTimeValue } from './pit.js';
import type { PointsInTime } from './pit.js';
import { pitClause, runSearch } from './search.js';
import type { SearchScope } from './search.js';
import { runQuery } from './query.js';
import { clusterInfo, licenceInfo } from './versions.js';
import type { EsDoubleLicence, VersionBehaviour } from './versions.js';

/** The options of a double that its routes follow. */
export interface RouteOptions {
  models?: Record<string, (text: string) => number[]>;
  licenceReadable?: boolean;
}

/** A status and an optional JSON body. */
export interface Answer {
  status: number;
  body?: JsonObject;
}

const SHARDS_OK = { total: 1, successful: 1, skipped: 0, failed: 0 };

/** Routes one request of a double; throws EsHttpError for Elasticsearch's error answers. */
export class Router {
  constructor(
    private readonly cluster: DoubleCluster,
    private readonly pits: PointsInTime,
    private readonly options: RouteOptions,
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
