// The indexes of one Elasticsearch TEST DOUBLE and the writes on them: create, index, partial update, delete, _bulk.
import { badRequest, EsHttpError, indexNotFound, isObject, parsingError } from './errors.js';
import type { JsonObject } from './errors.js';
import { mapDocument } from './documents.js';
import type { DoubleIndex } from './documents.js';

/** Parses a JSON request body that must be an object (empty means `{}`); throws ES's 400s. */
export function parseJsonBody(text: string): JsonObject {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EsHttpError(
      400,
      'x_content_parse_exception',
      `[1:1] failed to parse request body: ${(error as Error).message}`,
    );
  }
  if (!isObject(parsed)) throw parsingError('request body must be a JSON object');
  return parsed;
}

/** Flattens `{"index": {"max_result_window": 5}}` and `{"index.max_result_window": 5}` to one level. */
function flatSettings(settings: JsonObject): JsonObject {
  const out: JsonObject = {};
  const walk = (object: JsonObject, prefix: string): void => {
    for (const [key, value] of Object.entries(object)) {
      if (isObject(value)) walk(value, `${prefix}${key}.`);
      else out[`${prefix}${key}`] = value;
    }
  };
  walk(settings, '');
  for (const key of Object.keys(out)) {
    if (key.startsWith('index.')) {
      out[key.slice('index.'.length)] = out[key]!;
      delete out[key];
    }
  }
  return out;
}

/** The indexes of a double. */
export class DoubleCluster {
  readonly indices = new Map<string, DoubleIndex>();

  get(name: string): DoubleIndex {
    const index = this.indices.get(name);
    if (!index) throw indexNotFound(name);
    return index;
  }

  /** Resolves `a,b` or `*` patterns to existing indexes (404 for a missing concrete name). */
  resolve(expression: string): DoubleIndex[] {
    const out: DoubleIndex[] = [];
    for (const part of expression.split(',')) {
      if (part === '_all' || part.includes('*')) {
        const pattern = new RegExp(`^${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
        for (const index of this.indices.values())
          if ((part === '_all' || pattern.test(index.name)) && !index.name.startsWith('.')) out.push(index);
      } else {
        out.push(this.get(part));
      }
    }
    return [...new Set(out)];
  }

  create(name: string, body: JsonObject): JsonObject {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || name.length > 255) {
      throw new EsHttpError(
        400,
        'invalid_index_name_exception',
        `Invalid index name [${name}], must be lowercase and must not contain [\\, /, *, ?, ", <, >, |, ' ', ',', #]`,
      );
    }
    if (this.indices.has(name)) {
      throw new EsHttpError(
        400,
        'resource_already_exists_exception',
        `index [${name}/double] already exists`,
        { index: name },
      );
    }
    for (const key of Object.keys(body)) {
      if (!['mappings', 'settings', 'aliases'].includes(key))
        throw parsingError(`unknown key [${key}] for create index`);
    }
    const mappings = isObject(body.mappings) ? (structuredClone(body.mappings) as JsonObject) : {};
    if (!isObject(mappings.properties)) mappings.properties = {};
    this.indices.set(name, {
      name,
      mappings: mappings as DoubleIndex['mappings'],
      settings: isObject(body.settings) ? flatSettings(body.settings) : {},
      docs: new Map(),
      nextSeq: 0,
    });
    return { acknowledged: true, shards_acknowledged: true, index: name };
  }

  indexDoc(index: DoubleIndex, id: string, source: JsonObject, opType: 'index' | 'create'): JsonObject {
    const existing = index.docs.get(id);
    if (existing && opType === 'create') {
      throw new EsHttpError(
        409,
        'version_conflict_engine_exception',
        `[${id}]: version conflict, document already exists (current version [${existing.version}])`,
        { index: index.name },
      );
    }
    mapDocument(index, source);
    const version = (existing?.version ?? 0) + 1;
    index.docs.set(id, { id, version, seq: index.nextSeq++, source });
    return {
      _index: index.name,
      _id: id,
      _version: version,
      result: existing ? 'updated' : 'created',
      status: existing ? 200 : 201,
    };
  }

  updateDoc(index: DoubleIndex, id: string, body: JsonObject): JsonObject {
    const existing = index.docs.get(id);
    if (!isObject(body.doc))
      throw badRequest('[update] the test double supports partial updates with [doc] only');
    if (!existing) {
      if (body.doc_as_upsert === true) return this.indexDoc(index, id, body.doc, 'index');
      throw new EsHttpError(404, 'document_missing_exception', `[${id}]: document missing`, {
        index: index.name,
        shard: '0',
      });
    }
    const merged = { ...existing.source, ...body.doc };
    mapDocument(index, merged);
    // NOTE: a new object, not a mutation: points in time hold the old one.
    index.docs.set(id, { id, version: existing.version + 1, seq: index.nextSeq++, source: merged });
    return { _index: index.name, _id: id, _version: existing.version + 1, result: 'updated', status: 200 };
  }

  deleteDoc(index: DoubleIndex, id: string): boolean {
    return index.docs.delete(id);
  }

  bulk(defaultIndex: string | undefined, text: string): JsonObject {
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    const items: JsonObject[] = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      let action: JsonObject;
      try {
        action = parseJsonBody(lines[i]!);
      } catch {
        throw badRequest(`Malformed action/metadata line [${i + 1}], expected START_OBJECT`);
      }
      const opType = Object.keys(action)[0];
      const meta = opType === undefined ? undefined : action[opType];
      if (!opType || !['index', 'create', 'update', 'delete'].includes(opType) || !isObject(meta)) {
        throw badRequest(
          `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${opType}]`,
        );
      }
      const indexName = typeof meta._index === 'string' ? meta._index : defaultIndex;
      if (!indexName)
        throw new EsHttpError(
          400,
          'action_request_validation_exception',
          'Validation Failed: 1: index is missing;',
        );
      let payload: JsonObject | undefined;
      if (opType !== 'delete') {
        i++;
        if (i >= lines.length) throw badRequest('The bulk request must be terminated by a newline [\\n]');
        payload = parseJsonBody(lines[i]!);
      }
      const id =
        meta._id === undefined ? `auto-${Math.random().toString(36).slice(2, 12)}` : String(meta._id);
      try {
        let result: JsonObject;
        if (opType === 'delete') {
          const found = this.deleteDoc(this.get(indexName), id);
          result = {
            _index: indexName,
            _id: id,
            result: found ? 'deleted' : 'not_found',
            status: found ? 200 : 404,
          };
        } else {
          if (!this.indices.has(indexName) && opType !== 'update') this.create(indexName, {});
          const index = this.get(indexName);
          result =
            opType === 'update'
              ? this.updateDoc(index, id, payload!)
              : this.indexDoc(index, id, payload!, opType as 'index' | 'create');
        }
        items.push({ [opType]: result });
      } catch (error) {
        if (!(error instanceof EsHttpError)) throw error;
        errors = true;
        items.push({
          [opType]: {
            _index: indexName,
            _id: id,
            status: error.status,
            error: error.asCause(),
          },
        });
      }
    }
    return { took: 1, errors, items };
  }
}
