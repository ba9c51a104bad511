// The Elasticsearch versions and licences the TEST DOUBLE can play, and what changes between them.
import type { JsonObject } from './errors.js';

/** A release line the double behaves like. */
export type EsDoubleVersion = '8.15' | '8.19' | '9.2';

/** A licence level, as `GET /_license` names it. */
export type EsDoubleLicence = 'basic' | 'gold' | 'platinum' | 'enterprise' | 'trial';

export interface VersionBehaviour {
  number: string;
  luceneVersion: string;
  /** The REST API major it speaks, and the older one it accepts through `compatible-with`. */
  major: 8 | 9;
  /**
   * sparse_vector fields of indexes created on this version prune query tokens by default
   * (`index_options.prune`, tokens_freq_ratio_threshold 5, tokens_weight_threshold 0.4): 8.19 and 9.1+.
   */
  sparsePruningByDefault: boolean;
  /** The sparse_vector mapping takes `index_options` (8.19 and 9.1+). */
  sparseIndexOptions: boolean;
  /** New indexes leave dense_vector and sparse_vector values out of `_source` (`index.mapping.exclude_source_vectors`, 9.2+). */
  excludeSourceVectors: boolean;
  /**
   * 8.15 runs the rrf retriever through the legacy `rank` phase, which breaks equal RRF scores by the child
   * retrievers' own scores; 8.16+ (RankDoc) breaks them by shard and Lucene doc id.
   */
  legacyRrfTieBreak: boolean;
  /** `index.version.created` of new indexes. */
  indexVersion: string;
}

export const VERSIONS: Record<EsDoubleVersion, VersionBehaviour> = {
  '8.15': {
    number: '8.15.5',
    luceneVersion: '9.11.1',
    major: 8,
    sparsePruningByDefault: false,
    sparseIndexOptions: false,
    excludeSourceVectors: false,
    legacyRrfTieBreak: true,
    indexVersion: '8512000',
  },
  '8.19': {
    number: '8.19.1',
    luceneVersion: '9.12.2',
    major: 8,
    sparsePruningByDefault: true,
    sparseIndexOptions: true,
    excludeSourceVectors: false,
    legacyRrfTieBreak: false,
    indexVersion: '8533000',
  },
  '9.2': {
    number: '9.2.0',
    luceneVersion: '10.3.1',
    major: 9,
    sparsePruningByDefault: true,
    sparseIndexOptions: true,
    excludeSourceVectors: true,
    legacyRrfTieBreak: false,
    indexVersion: '9039000',
  },
};

/** `GET /` as a cluster of this version answers it. */
export function clusterInfo(behaviour: VersionBehaviour): JsonObject {
  return {
    name: 'es-test-double',
    cluster_name: 'steer-es-test-double',
    cluster_uuid: 'es-test-double',
    version: {
      number: behaviour.number,
      build_flavor: 'default',
      build_type: 'tar',
      lucene_version: behaviour.luceneVersion,
      minimum_wire_compatibility_version: behaviour.major === 9 ? '8.19.0' : '7.17.0',
      minimum_index_compatibility_version: behaviour.major === 9 ? '8.0.0' : '7.0.0',
    },
    tagline: 'You Know, for Search',
  };
}

/** `GET /_license` for a licence level. */
export function licenceInfo(licence: EsDoubleLicence): JsonObject {
  return {
    license: {
      status: 'active',
      uid: 'es-test-double-licence',
      type: licence,
      issue_date: '2025-01-01T00:00:00.000Z',
      issue_date_in_millis: 1735689600000,
      ...(licence === 'basic' ? {} : { expiry_date_in_millis: 4102444800000 }),
      max_nodes: 1000,
      max_resource_units: null,
      issued_to: 'es-test-double',
      issuer: 'elasticsearch',
      start_date_in_millis: -1,
    },
  };
}

/** Features whose licence Elasticsearch checks, and the operation mode they need. */
const REQUIRED_MODE = { rrf: 'enterprise' } as const;
const MODE_ORDER: EsDoubleLicence[] = ['basic', 'gold', 'platinum', 'enterprise'];

/** Whether a licence allows a feature (a trial allows everything). */
export function licenceAllows(licence: EsDoubleLicence, feature: keyof typeof REQUIRED_MODE): boolean {
  if (licence === 'trial') return true;
  return MODE_ORDER.indexOf(licence) >= MODE_ORDER.indexOf(REQUIRED_MODE[feature]);
}
