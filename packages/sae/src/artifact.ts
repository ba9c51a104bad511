// The SAE artifact on disk: a folder with sae.safetensors (W_enc, b_enc, W_dec, b_dec as F32) and
// manifest.json; atomic writer, validating readers.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncFolder } from '@steer/core';
import { SaeError } from './errors.js';
import {
  readSafetensorsF32,
  readSafetensorsHeader,
  writeSafetensors,
  type SafetensorsHeader,
} from './safetensors.js';

/** Format tag of the manifest and of the safetensors `__metadata__`. */
export const SAE_FORMAT = 'steer-sae/1';
/** File names inside an SAE folder. */
export const WEIGHTS_FILE = 'sae.safetensors';
export const MANIFEST_FILE = 'manifest.json';
/** Prefix of the encoder graphs the runtime generates inside the folder (see FORMAT.md). */
export const ENCODER_CACHE_PREFIX = '.steer-encoder-';

/** Dense SAE weights, row-major float32. */
export interface SaeWeights {
  W_enc: Float32Array; // [nLatents, dModel]
  b_enc: Float32Array; // [nLatents]
  W_dec: Float32Array; // [dModel, nLatents]
  b_dec: Float32Array; // [dModel]
  dModel: number;
  nLatents: number;
}

/** The embedding model an SAE was trained on. */
export interface EmbeddingInfo {
  model: string;
  /** The embedder's version (model files, runtime, computation revision) when it reports one. */
  version?: string;
  dims: number;
  normalized: boolean;
}

/** Contents of manifest.json. */
export interface SaeManifest {
  format: 'steer-sae/1';
  /** "sae-" + the first 16 hex digits of `sha256`. */
  id: string;
  /** SHA-256 (hex) of sae.safetensors. */
  sha256: string;
  k: number;
  dModel: number;
  nLatents: number;
  embedding: EmbeddingInfo;
  training?: Record<string, unknown>;
  createdAt: string;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function checkK(k: number, nLatents: number, where: string): void {
  if (!isPositiveInteger(k)) {
    throw new SaeError(
      'invalid_input',
      `sae: k is ${k} in ${where}; use a positive integer number of active latents`,
    );
  }
  if (k > nLatents) {
    throw new SaeError(
      'k_too_large',
      `sae: k is ${k} in ${where} but the SAE has only ${nLatents} latents; use k <= ${nLatents}`,
    );
  }
}

function checkEmbedding(
  embedding: unknown,
  dModel: number,
  where: string,
): asserts embedding is EmbeddingInfo {
  const info = embedding as Partial<EmbeddingInfo> | null;
  if (
    typeof info !== 'object' ||
    info === null ||
    typeof info.model !== 'string' ||
    info.model === '' ||
    !isPositiveInteger(info.dims) ||
    typeof info.normalized !== 'boolean'
  ) {
    throw new SaeError(
      'invalid_input',
      `sae: embedding in ${where} must be { model: non-empty string, dims: positive integer, normalized: boolean }; got ${JSON.stringify(embedding)}`,
    );
  }
  if (info.dims !== dModel) {
    throw new SaeError(
      'dims_mismatch',
      `sae: embedding ${info.model} has ${info.dims} dims but the SAE weights have dModel ${dModel}; train the SAE on this model's embeddings`,
    );
  }
}

function checkWeights(weights: SaeWeights): void {
  const { dModel, nLatents } = weights;
  if (!isPositiveInteger(dModel) || !isPositiveInteger(nLatents)) {
    throw new SaeError(
      'invalid_weights',
      `sae: dModel ${dModel} and nLatents ${nLatents} must be positive integers`,
    );
  }
  const expected: Array<[keyof SaeWeights, number, string]> = [
    ['W_enc', nLatents * dModel, `[${nLatents}, ${dModel}]`],
    ['b_enc', nLatents, `[${nLatents}]`],
    ['W_dec', dModel * nLatents, `[${dModel}, ${nLatents}]`],
    ['b_dec', dModel, `[${dModel}]`],
  ];
  for (const [name, length, shape] of expected) {
    const data = weights[name];
    if (!(data instanceof Float32Array) || data.length !== length) {
      const got = data instanceof Float32Array ? `${data.length} values` : typeof data;
      throw new SaeError(
        'invalid_weights',
        `sae: ${name} must be a Float32Array of shape ${shape} (${length} values), got ${got}; fix the weights' shapes`,
      );
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new SaeError(
          'invalid_weights',
          `sae: ${name}[${i}] is ${data[i]}; the weights must be finite (training diverged?)`,
        );
      }
    }
  }
}

/** Names inside an existing folder that writeSae may replace: our own artifact files. */
function isArtifactEntry(name: string): boolean {
  return name === WEIGHTS_FILE || name === MANIFEST_FILE || name.startsWith(ENCODER_CACHE_PREFIX);
}

/**
 * Writes an SAE folder atomically: everything goes to a temporary sibling folder that is renamed into
 * place, so a crash never leaves a partial artifact. An existing SAE folder at `dir` is replaced; a folder
 * with other files is refused.
 * @returns the manifest written.
 * @throws SaeError `invalid_weights`, `invalid_input`, `k_too_large`, `dims_mismatch`, `dir_not_empty`.
 */
export async function writeSae(
  dir: string,
  weights: SaeWeights,
  meta: { k: number; embedding: EmbeddingInfo; training?: Record<string, unknown> },
): Promise<SaeManifest> {
  checkWeights(weights);
  checkK(meta.k, weights.nLatents, 'writeSae');
  checkEmbedding(meta.embedding, weights.dModel, 'writeSae');
  const existing = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new SaeError(
      'invalid_input',
      `sae: cannot write to ${dir}: ${error.message}; choose a writable folder`,
      { cause: error },
    );
  });
  const strangers = existing?.filter((name) => !isArtifactEntry(name)) ?? [];
  if (strangers.length > 0) {
    throw new SaeError(
      'dir_not_empty',
      `sae: ${dir} already holds files that are not an SAE (${strangers.slice(0, 3).join(', ')}); write the SAE to an empty or new folder`,
    );
  }
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${basename(dir)}.tmp-${suffix}`);
  await mkdir(temp);
  try {
    const handle = await open(join(temp, WEIGHTS_FILE), 'wx');
    let sha256: string;
    try {
      sha256 = await writeSafetensors(
        handle,
        [
          { name: 'W_enc', shape: [weights.nLatents, weights.dModel], data: weights.W_enc },
          { name: 'b_enc', shape: [weights.nLatents], data: weights.b_enc },
          { name: 'W_dec', shape: [weights.dModel, weights.nLatents], data: weights.W_dec },
          { name: 'b_dec', shape: [weights.dModel], data: weights.b_dec },
        ],
        { format: SAE_FORMAT },
      );
      await handle.sync();
    } finally {
      await handle.close();
    }
    const manifest: SaeManifest = {
      format: SAE_FORMAT,
      id: `sae-${sha256.slice(0, 16)}`,
      sha256,
      k: meta.k,
      dModel: weights.dModel,
      nLatents: weights.nLatents,
      embedding: {
        model: meta.embedding.model,
        ...(typeof meta.embedding.version === 'string' ? { version: meta.embedding.version } : {}),
        dims: meta.embedding.dims,
        normalized: meta.embedding.normalized,
      },
      ...(meta.training !== undefined ? { training: meta.training } : {}),
      createdAt: new Date().toISOString(),
    };
    await writeFile(join(temp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { flag: 'wx' });
    if (existing === undefined) {
      await rename(temp, dir);
    } else {
      const old = join(parent, `.${basename(dir)}.old-${suffix}`);
      await rename(dir, old);
      try {
        await rename(temp, dir);
      } catch (error) {
        await rename(old, dir);
        throw error;
      }
      await rm(old, { recursive: true, force: true });
    }
    await syncFolder(parent);
    return manifest;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Reads and validates manifest.json of an SAE folder.
 * @throws SaeError `sae_not_found` (no folder or manifest), `sae_corrupt` (bad JSON or fields), `k_too_large`.
 */
export async function readSaeManifest(dir: string): Promise<SaeManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    throw new SaeError(
      'sae_not_found',
      exists
        ? `sae: ${dir} has no ${MANIFEST_FILE}; it is not an SAE folder (write one with writeSae or scripts/convert_torch_sae.py)`
        : `sae: SAE folder ${dir} does not exist; check the path`,
      { cause: error },
    );
  }
  const bad = (problem: string): SaeError =>
    new SaeError('sae_corrupt', `sae: ${file} is invalid: ${problem}; re-export the SAE`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw bad(`not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== SAE_FORMAT) throw bad(`format is ${JSON.stringify(m.format)}, expected "${SAE_FORMAT}"`);
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256))
    throw bad('sha256 is not 64 lowercase hex digits');
  if (m.id !== `sae-${m.sha256.slice(0, 16)}`)
    throw bad(`id ${JSON.stringify(m.id)} does not match sha256 (expected "sae-${m.sha256.slice(0, 16)}")`);
  if (!isPositiveInteger(m.dModel)) throw bad(`dModel ${JSON.stringify(m.dModel)} is not a positive integer`);
  if (!isPositiveInteger(m.nLatents))
    throw bad(`nLatents ${JSON.stringify(m.nLatents)} is not a positive integer`);
  if (typeof m.k !== 'number') throw bad(`k ${JSON.stringify(m.k)} is not a number`);
  checkK(m.k, m.nLatents, file);
  try {
    checkEmbedding(m.embedding, m.dModel, file);
  } catch (error) {
    if (error instanceof SaeError && error.code === 'invalid_input')
      throw bad(error.message.replace(/^sae: /, ''));
    throw error;
  }
  if (
    m.training !== undefined &&
    (typeof m.training !== 'object' || m.training === null || Array.isArray(m.training))
  ) {
    throw bad('training is not an object');
  }
  if (typeof m.createdAt !== 'string') throw bad('createdAt is not a string');
  return raw as SaeManifest;
}

/**
 * Reads and validates the safetensors header of an SAE folder against its manifest: the four tensors,
 * dtype F32, shapes [n,d], [n], [d,n], [d], and the steer-sae/1 metadata.
 * @throws SaeError `sae_not_found`, `sae_corrupt`.
 */
export async function readSaeHeader(dir: string, manifest: SaeManifest): Promise<SafetensorsHeader> {
  const file = join(dir, WEIGHTS_FILE);
  const header = await readSafetensorsHeader(file);
  const { dModel: d, nLatents: n } = manifest;
  const bad = (problem: string): SaeError =>
    new SaeError(
      'sae_corrupt',
      `sae: ${file} does not match ${MANIFEST_FILE}: ${problem}; re-export the SAE`,
    );
  if (header.metadata.format !== SAE_FORMAT) {
    throw bad(`__metadata__.format is ${JSON.stringify(header.metadata.format)}, expected "${SAE_FORMAT}"`);
  }
  const expected: Record<string, number[]> = { W_enc: [n, d], b_enc: [n], W_dec: [d, n], b_dec: [d] };
  for (const [name, shape] of Object.entries(expected)) {
    const entry = header.tensors.get(name);
    if (entry === undefined) throw bad(`tensor ${name} is missing`);
    if (entry.dtype !== 'F32') throw bad(`tensor ${name} has dtype ${entry.dtype}, expected F32`);
    if (entry.shape.length !== shape.length || entry.shape.some((dim, i) => dim !== shape[i])) {
      throw bad(
        `tensor ${name} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] (dModel ${d}, nLatents ${n})`,
      );
    }
  }
  return header;
}

/**
 * Reads named tensors of an SAE folder, verifying the file's SHA-256 against the manifest when asked.
 * @internal shared by readSaeWeights and the runtime.
 */
export async function readSaeTensors(
  dir: string,
  manifest: SaeManifest,
  header: SafetensorsHeader,
  names: readonly string[],
  verifyHash: boolean,
): Promise<Map<string, Float32Array>> {
  const file = join(dir, WEIGHTS_FILE);
  const { tensors, sha256 } = await readSafetensorsF32(file, header, names, { hash: verifyHash });
  if (verifyHash && sha256 !== manifest.sha256) {
    throw new SaeError(
      'hash_mismatch',
      `sae: ${file} has SHA-256 ${sha256} but ${MANIFEST_FILE} says ${manifest.sha256}; the file was changed or damaged, re-export the SAE`,
    );
  }
  return tensors;
}

/**
 * Reads all weights of an SAE folder into memory.
 * @param options.verifyHash check sae.safetensors against the manifest's SHA-256 (default true; one extra
 *   streaming pass is avoided by hashing while reading).
 * @throws SaeError `sae_not_found`, `sae_corrupt`, `hash_mismatch`.
 */
export async function readSaeWeights(
  dir: string,
  options: { verifyHash?: boolean } = {},
): Promise<SaeWeights> {
  const manifest = await readSaeManifest(dir);
  const header = await readSaeHeader(dir, manifest);
  const tensors = await readSaeTensors(
    dir,
    manifest,
    header,
    ['W_enc', 'b_enc', 'W_dec', 'b_dec'],
    options.verifyHash ?? true,
  );
  return {
    W_enc: tensors.get('W_enc')!,
    b_enc: tensors.get('b_enc')!,
    W_dec: tensors.get('W_dec')!,
    b_dec: tensors.get('b_dec')!,
    dModel: manifest.dModel,
    nLatents: manifest.nLatents,
  };
}
