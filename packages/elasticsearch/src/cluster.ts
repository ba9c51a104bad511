// What Steer learns about a cluster once per connection (version, flavour, licence) and the version floor it needs.
import { errors } from '@elastic/elasticsearch';
import type { Client } from '@elastic/elasticsearch';
import { ElasticsearchBackendError } from './errors.js';

/** The oldest release Steer supports: the `sparse_vector` query and the rrf retriever both exist from 8.15. */
export const MIN_SUPPORTED_VERSION = '8.15.0';

/** A cluster as Steer adapts to it. */
export interface ClusterProfile {
  /** `version.number` of `GET /`, e.g. `8.19.1`; `unknown` when the credentials may not read it. */
  version: string;
  major: number;
  minor: number;
  /** Elastic Cloud Serverless (`build_flavor: serverless`): versionless, every feature available. */
  serverless: boolean;
  /** Licence type of `GET /_license` (`basic`, `trial`, `enterprise`, ...), undefined when unreadable. */
  licence?: string;
  /**
   * Whether the rrf retriever may run on the cluster: false on licences below Enterprise (then hybrid search
   * fuses the two result lists in Steer), undefined when the licence is unknown (then Steer tries, and falls
   * back when the cluster refuses).
   */
  rrf?: boolean;
  /** 8.15 breaks equal RRF scores by the child retrievers' scores (its legacy rank phase); 8.16+ by doc. */
  legacyRrfTieBreak: boolean;
}

/** Parses `major.minor[.patch][-suffix]`; NaN parts when it is not a version. */
export function parseVersion(version: string): { major: number; minor: number } {
  const match = /^(\d+)\.(\d+)/.exec(version);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : { major: NaN, minor: NaN };
}

/** Whether `version` is at least `floor` (both `major.minor...`). */
export function versionAtLeast(version: { major: number; minor: number }, floor: string): boolean {
  const min = parseVersion(floor);
  return version.major > min.major || (version.major === min.major && version.minor >= min.minor);
}

function forbidden(error: unknown): boolean {
  return error instanceof errors.ResponseError && (error.statusCode === 403 || error.statusCode === 404);
}

/** Licence types whose operation mode includes Enterprise features such as RRF. */
const RRF_LICENCES = new Set(['enterprise', 'trial']);

/**
 * Reads the cluster's version (`GET /`) and licence (`GET /_license`) and checks the version floor.
 * Returns the profile; throws ElasticsearchBackendError `unsupported_version` below 8.15. Credentials that may
 * not read either endpoint (403) leave those parts unknown rather than failing.
 */
export async function readClusterProfile(client: Client): Promise<ClusterProfile> {
  let version = 'unknown';
  let serverless = false;
  try {
    const info = await client.info();
    version = info.version.number;
    serverless = info.version.build_flavor === 'serverless';
  } catch (error) {
    if (!forbidden(error)) throw error;
  }
  const { major, minor } = parseVersion(version);
  const known = !Number.isNaN(major) && !serverless;
  if (known && !versionAtLeast({ major, minor }, MIN_SUPPORTED_VERSION)) {
    throw new ElasticsearchBackendError(
      'unsupported_version',
      `elasticsearch: the cluster runs Elasticsearch ${version}, but Steer needs ${MIN_SUPPORTED_VERSION} or later (the sparse_vector query and the rrf retriever arrived in 8.15); upgrade the cluster`,
    );
  }
  const profile: ClusterProfile = {
    version,
    major,
    minor,
    serverless,
    legacyRrfTieBreak: known && major === 8 && minor === 15,
  };
  if (serverless) {
    profile.rrf = true;
    return profile;
  }
  try {
    const { license } = await client.license.get();
    profile.licence = license.type;
    profile.rrf = license.status === 'active' && RRF_LICENCES.has(license.type);
  } catch (error) {
    if (!forbidden(error)) throw error;
  }
  return profile;
}

/** True for the 403 a cluster answers when its licence does not cover the rrf retriever. */
export function isRrfLicenceError(error: unknown): boolean {
  return (
    error instanceof errors.ResponseError &&
    error.statusCode === 403 &&
    JSON.stringify(error.body ?? '').includes('Reciprocal Rank Fusion')
  );
}
