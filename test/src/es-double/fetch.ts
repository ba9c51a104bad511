// The fetch phase of the Elasticsearch TEST DOUBLE: `_source` filtering (and 9.2's vector exclusion), `fields`,
// `highlight` and `collapse`, shaped as Elasticsearch shapes a hit.
import { badRequest, isObject, parsingError } from './errors.js';
import type { Json, JsonObject } from './errors.js';
import {
  excludesSourceVectors,
  resolveField,
  valueAt,
  valuesAt,
  vectorFieldPaths,
  withoutPaths,
} from './documents.js';
import type { DoubleIndex, StoredDoc } from './documents.js';
import { analyze } from './query.js';
import type { RankedHit } from './sort.js';
import type { VersionBehaviour } from './versions.js';

/** What a request asks of `_source`. */
export interface SourceRequest {
  fetch: boolean;
  includes: string[];
  excludes: string[];
  /** 9.x `exclude_vectors`: false brings vectors back into `_source`; undefined follows the index setting. */
  excludeVectors?: boolean;
}

function stringList(value: Json | undefined, what: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw parsingError(`[_source] ${what} must be a string or an array of strings`);
}

/**
 * Reads the `_source` spec of a search body (or of the `_source*` URL parameters when the body has none), as
 * FetchSourceContext parses it for this version. Throws the parsing_exception Elasticsearch gives for keys it
 * does not know (8.x does not know `exclude_vectors`).
 */
export function sourceRequest(
  spec: Json | undefined,
  params: URLSearchParams,
  behaviour: VersionBehaviour,
): SourceRequest {
  const out: SourceRequest = { fetch: true, includes: [], excludes: [] };
  const excludeVectorsParam = params.get('_source_exclude_vectors');
  if (excludeVectorsParam !== null) {
    if (behaviour.major < 9)
      throw badRequest(`request [_search] contains unrecognized parameter: [_source_exclude_vectors]`);
    out.excludeVectors = excludeVectorsParam !== 'false';
  }
  if (spec === undefined) {
    const flag = params.get('_source');
    if (flag === 'false') out.fetch = false;
    else if (flag !== null && flag !== 'true') out.includes = flag.split(',');
    out.includes.push(...(params.get('_source_includes')?.split(',').filter(Boolean) ?? []));
    out.excludes.push(...(params.get('_source_excludes')?.split(',').filter(Boolean) ?? []));
    return out;
  }
  if (typeof spec === 'boolean') out.fetch = spec;
  else if (typeof spec === 'string' || Array.isArray(spec)) out.includes = stringList(spec, 'includes');
  else if (isObject(spec)) {
    for (const [key, value] of Object.entries(spec)) {
      if (key === 'includes' || key === 'include') out.includes = stringList(value, key);
      else if (key === 'excludes' || key === 'exclude') out.excludes = stringList(value, key);
      else if (key === 'exclude_vectors' && behaviour.major >= 9 && typeof value === 'boolean')
        out.excludeVectors = value;
      else {
        const token =
          typeof value === 'boolean' ? 'VALUE_BOOLEAN' : isObject(value) ? 'START_OBJECT' : 'VALUE_STRING';
        throw parsingError(`Unknown key for a ${token} in [${key}].`);
      }
    }
  } else throw parsingError('[_source] must be a boolean, a string, an array or an object');
  return out;
}

function globMatch(pattern: string, key: string): boolean {
  return (
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(key) ||
    key.startsWith(`${pattern}.`)
  );
}

/** A hit's `_source` as the request asks for it, or undefined when it asks for none. */
export function hitSource(
  index: DoubleIndex,
  doc: StoredDoc,
  request: SourceRequest,
): JsonObject | undefined {
  if (!request.fetch) return undefined;
  let source = doc.source;
  // NOTE: an explicit exclude_vectors wins over the index setting, as in ShardGetService.
  if (request.excludeVectors ?? excludesSourceVectors(index))
    source = withoutPaths(source, vectorFieldPaths(index));
  const { includes, excludes } = request;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(source)) {
    if (includes.length > 0 && !includes.some((p) => globMatch(p, key) || p.startsWith(`${key}.`))) continue;
    if (excludes.some((p) => globMatch(p, key))) continue;
    out[key] = value;
  }
  return out;
}

/** `fields`: values per requested field (wildcards allowed), read from the whole `_source`. */
export function hitFields(index: DoubleIndex, doc: StoredDoc, requested: Json): JsonObject | undefined {
  const patterns = (Array.isArray(requested) ? requested : [requested]).map((entry) =>
    isObject(entry) && typeof entry.field === 'string' ? entry.field : entry,
  );
  if (!patterns.every((p) => typeof p === 'string')) throw parsingError('[fields] must hold field names');
  const out: JsonObject = {};
  const names = new Set<string>();
  const collect = (properties: JsonObject, prefix: string): void => {
    for (const [name, mapping] of Object.entries(properties)) {
      if (!isObject(mapping)) continue;
      names.add(prefix + name);
      if (isObject(mapping.properties)) collect(mapping.properties, `${prefix}${name}.`);
    }
  };
  collect(index.mappings.properties, '');
  for (const name of names) {
    if (!(patterns as string[]).some((p) => globMatch(p, name) && !name.startsWith(`${p}.`))) continue;
    const mapping = resolveField(index, name)?.mapping;
    if (isObject(mapping?.properties)) continue;
    const values =
      mapping?.type === 'dense_vector' || mapping?.type === 'sparse_vector'
        ? [valueAt(doc.source, name) ?? null].filter((v) => v !== null).flat()
        : valuesAt(doc.source, name).filter((v) => v !== null);
    if (values.length > 0) out[name] = values as Json[];
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Query terms per field, for highlighting: the values of term, terms and match clauses anywhere in the query. */
export function queryTerms(query: Json | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (field: string, text: Json): void => {
    const set = out.get(field) ?? new Set<string>();
    for (const token of analyze(String(text))) set.add(token);
    out.set(field, set);
  };
  const walk = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'match' || key === 'term') && isObject(value)) {
        for (const [field, spec] of Object.entries(value)) {
          add(field, isObject(spec) ? (spec.query ?? spec.value ?? '') : spec);
        }
      } else if (key === 'terms' && isObject(value)) {
        for (const [field, values] of Object.entries(value))
          if (Array.isArray(values)) values.forEach((v) => add(field, v));
      } else walk(value);
    }
  };
  walk(query ?? null);
  return out;
}

/** `highlight`: each requested field's matching text with the terms wrapped in tags, as fragments. */
export function hitHighlight(
  doc: StoredDoc,
  spec: Json,
  terms: Map<string, Set<string>>,
): JsonObject | undefined {
  if (!isObject(spec) || !isObject(spec.fields)) throw parsingError('[highlight] requires [fields]');
  const pre = stringList(spec.pre_tags, 'pre_tags')[0] ?? '<em>';
  const post = stringList(spec.post_tags, 'post_tags')[0] ?? '</em>';
  const out: JsonObject = {};
  for (const [pattern, options] of Object.entries(spec.fields)) {
    const fieldOptions = isObject(options) ? options : {};
    const fragmentSize = Number(fieldOptions.fragment_size ?? spec.fragment_size ?? 100);
    const fragments = Number(fieldOptions.number_of_fragments ?? spec.number_of_fragments ?? 5);
    for (const [field, wanted] of terms) {
      if (!globMatch(pattern, field) || wanted.size === 0) continue;
      const texts = valuesAt(doc.source, field).filter((v): v is string => typeof v === 'string');
      const highlighted: string[] = [];
      for (const text of texts) {
        const matches = [...text.matchAll(/[\p{L}\p{N}]+/gu)].filter((m) => wanted.has(m[0].toLowerCase()));
        if (matches.length === 0) continue;
        const tag = (from: number, to: number): string => {
          let result = '';
          let at = from;
          for (const m of matches) {
            if (m.index < from || m.index + m[0].length > to) continue;
            result += text.slice(at, m.index) + pre + m[0] + post;
            at = m.index + m[0].length;
          }
          return result + text.slice(at, to);
        };
        if (fragments === 0 || text.length <= fragmentSize) highlighted.push(tag(0, text.length));
        else {
          for (const m of matches.slice(0, fragments)) {
            const start = Math.max(0, m.index - Math.floor((fragmentSize - m[0].length) / 2));
            highlighted.push(tag(start, Math.min(text.length, start + fragmentSize)));
          }
        }
      }
      if (highlighted.length > 0) out[field] = highlighted.slice(0, fragments === 0 ? undefined : fragments);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `collapse`: keeps the best hit per value of a keyword or numeric field; returns the kept hits and their keys. */
export function collapseHits(hits: RankedHit[], spec: Json): Array<{ hit: RankedHit; key: Json }> {
  if (!isObject(spec) || typeof spec.field !== 'string') throw parsingError('[collapse] requires [field]');
  if (spec.inner_hits !== undefined)
    throw badRequest('[collapse] inner_hits are not supported by the test double');
  const field = spec.field;
  const seen = new Set<string>();
  const out: Array<{ hit: RankedHit; key: Json }> = [];
  for (const hit of hits) {
    const resolved = resolveField(hit.index, field);
    const type = resolved?.mapping.type;
    if (type === undefined) throw badRequest(`no mapping found for \`${field}\` in order to collapse on`);
    if (!['keyword', 'long', 'integer', 'short', 'byte', 'double', 'float', 'date'].includes(String(type))) {
      throw badRequest(
        `unknown type for collapse field \`${field}\`, only keywords and numbers are accepted`,
      );
    }
    const key = valuesAt(hit.doc.source, resolved!.sourcePath)[0] ?? null;
    const id = JSON.stringify(key);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ hit, key });
  }
  return out;
}
