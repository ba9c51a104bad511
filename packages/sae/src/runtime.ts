// The SAE runtime: the dense encoder on onnxruntime (via @steer/onnx), sparse decode and steering in JS.
import { createSession, OnnxError, type Session } from '@steer/onnx';
import { readSaeHeader, readSaeManifest, readSaeTensors, type SaeManifest } from './artifact.js';
import {
  buildEncoderModel,
  ENCODER_INDICES,
  ENCODER_INPUT,
  ENCODER_VALUES,
  writeEncoderBeside,
} from './encoder-graph.js';
import { EditIndex } from './edit-index.js';
import { SaeError } from './errors.js';
import {
  addColumn,
  applyEdits,
  decodeSparse,
  latentRow,
  normalizeInPlace,
  validateEdits,
  type Decoder,
  type FeatureEdit,
  type SparseLatents,
  type QueryCoding,
  type SteerMode,
} from './sparse-ops.js';
import { pursueLatents } from './pursuit.js';

/** Options of {@link SaeRuntime.steer}. */
export interface SteerOptions {
  /** `residual` (default) or `reconstructed`. */
  mode?: SteerMode;
  /**
   * How the query's latents h (those `set`/`zero` edits read and `reconstructed` decodes) are found: `encoder`
   * (default here; callers resolve the user's `code=auto` with `resolveQueryCoding`) or `pursuit` (as
   * `encodePursuit`). With `pursuit` the returned latents are the pursued ones.
   */
  coding?: QueryCoding;
  /** Rescale the result to unit L2 norm; default `manifest.embedding.normalized`. */
  normalize?: boolean;
  /**
   * Return the query's latents (default true). With `false`, residual steering made only of `add` edits
   * skips the encoder entirely (h' - h is nonzero only at the edited features) and `latents` is empty (k = 0).
   */
  returnLatents?: boolean;
  /**
   * Always run the full encoder for `set`/`zero` edits (default false). Otherwise a query encoded in the last 32
   * single-vector encodes reuses its latents, and residual steering with `returnLatents: false` reads the edited
   * features' activations from the edit index (see FORMAT.md), running the encoder only when it cannot decide.
   */
  exactEdits?: boolean;
}

/** A loaded SAE. */
export interface SaeRuntime {
  readonly manifest: SaeManifest;
  readonly provider: 'cpu' | 'webgpu';
  /** Top-k latents of `batch` vectors x [batch, dModel]. */
  encode(x: Float32Array, batch: number): Promise<SparseLatents>;
  /**
   * Top-k latents of `batch` vectors found by pursuit over the decoder instead of by the encoder: the non-negative
   * k-sparse code whose decoding is closest to each vector (see `pursueLatents`; an SAE of more than 4,096 latents
   * is screened to its best-aligned atoms first). Slower than `encode` (k passes over W_dec, or over the screened
   * atoms, per vector), and far closer for vectors unlike the SAE's training data, such as short queries.
   */
  encodePursuit(x: Float32Array, batch: number): Promise<SparseLatents>;
  /** Dense latents [batch, nLatents] (zeros outside the top k). */
  encodeDense(x: Float32Array, batch: number): Promise<Float32Array>;
  /** x_hat [batch, dModel] = W_dec h + b_dec, touching only the active columns. */
  decode(latents: SparseLatents): Promise<Float32Array>;
  /** Encodes `count` vectors in batches (default 128), reporting progress after each batch. */
  encodeBatches(
    vectors: Float32Array,
    count: number,
    options?: { batchSize?: number; onProgress?: (done: number, total: number) => void },
  ): Promise<SparseLatents>;
  /**
   * Steers a query: residual mode returns q + W_dec (h' - h) (the input itself, bit for bit, when there
   * are no edits; no normalization then), reconstructed mode returns W_dec h' + b_dec.
   */
  steer(
    query: Float32Array,
    edits: FeatureEdit[],
    options?: SteerOptions,
  ): Promise<{ vector: Float32Array; latents: SparseLatents }>;
  /** Decoder column of a feature, [dModel]. */
  decoderDirection(feature: number): Float32Array;
  dispose(): Promise<void>;
}

/** Options of {@link loadSae}. */
export interface LoadSaeOptions {
  /** `cpu` (default), `webgpu` (falls back to cpu with a process warning when no adapter), or `auto` (silent). */
  provider?: 'cpu' | 'webgpu' | 'auto';
  /** Check sae.safetensors against the manifest's SHA-256 while reading it (default true). */
  verifyHash?: boolean;
  /** Threads for the encoder on the CPU (onnxruntime default when absent). */
  intraOpThreads?: number;
  /**
   * Let onnxruntime pre-pack W_enc (default false): a private packed copy instead of the memory-mapped
   * file; slower load, faster batch encoding. See FORMAT.md.
   */
  prepackEncoder?: boolean;
  /**
   * Use the edit index for residual `set`/`zero` edits (default true): built on the first such edit and cached beside
   * the SAE as `.steer-encoder-<id>-k<k>-edits-*.onnx`; unavailable (full encoder) when the folder is read-only.
   */
  editIndex?: boolean;
}

/** Single vectors whose latents the runtime keeps (a few hundred KiB at most). */
const RECENT_QUERIES = 32;

const EMPTY_LATENTS: Readonly<SparseLatents> = Object.freeze({
  indices: new Int32Array(0),
  values: new Float32Array(0),
  batch: 1,
  k: 0,
});

/**
 * Loads an SAE folder: validates manifest and safetensors header, reads W_dec and b_dec (verifying the
 * file hash), and starts the encoder session. The encoder graph is written into the folder as
 * `.steer-encoder-<id>-k<k>.onnx` and reads W_enc, b_enc, b_dec as external data straight from
 * sae.safetensors; when the folder is read-only the weights are embedded in an in-memory graph instead.
 * @throws SaeError `sae_not_found`, `sae_corrupt`, `hash_mismatch`, `k_too_large`.
 */
export async function loadSae(dir: string, options: LoadSaeOptions = {}): Promise<SaeRuntime> {
  const requested = options.provider ?? 'cpu';
  if (requested !== 'cpu' && requested !== 'webgpu' && requested !== 'auto') {
    throw new SaeError(
      'invalid_input',
      `sae: unknown provider ${JSON.stringify(requested)}; use "cpu", "webgpu" or "auto"`,
    );
  }
  const manifest = await readSaeManifest(dir);
  const header = await readSaeHeader(dir, manifest);
  const tensors = await readSaeTensors(dir, manifest, header, ['W_dec', 'b_dec'], options.verifyHash ?? true);
  const decoder: Decoder = {
    W_dec: tensors.get('W_dec')!,
    b_dec: tensors.get('b_dec')!,
    dModel: manifest.dModel,
    nLatents: manifest.nLatents,
  };
  const modelPath = await writeEncoderBeside(dir, manifest, header);
  const model =
    modelPath ??
    buildEncoderModel(manifest, {
      kind: 'inline',
      ...(await readSaeTensors(dir, manifest, header, ['W_enc', 'b_enc', 'b_dec'], false).then((t) => ({
        W_enc: t.get('W_enc')!,
        b_enc: t.get('b_enc')!,
        b_dec: t.get('b_dec')!,
      }))),
    });
  const sessionOptions = {
    // NOTE: without pre-packing W_enc stays in the memory-mapped sae.safetensors (page cache, shared between
    // processes, session start in ms); pre-packing copies it into private packed memory (same RSS, ~1 s
    // longer load at the paper size, faster batch encoding).
    disablePrepacking: !(options.prepackEncoder ?? false),
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
  };
  let session: Session;
  try {
    session = await createSession(model, { ...sessionOptions, provider: requested });
  } catch (error) {
    if (!(error instanceof OnnxError) || error.code !== 'provider_unavailable') throw error;
    process.emitWarning(
      `sae: ${error.message.replace(/^onnx: /, '')}; running the SAE encoder on the CPU instead`,
      { code: 'STEER_SAE_WEBGPU_UNAVAILABLE' },
    );
    session = await createSession(model, { ...sessionOptions, provider: 'cpu' });
  }
  const openEditIndex =
    options.editIndex === false || session.provider !== 'cpu'
      ? undefined
      : (): Promise<EditIndex | undefined> =>
          EditIndex.open(dir, manifest, header, decoder.b_dec, {
            ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
          });
  return new OnnxSaeRuntime(manifest, session.provider, session, decoder, openEditIndex);
}

class OnnxSaeRuntime implements SaeRuntime {
  #session: Session | undefined;
  #editIndex: Promise<EditIndex | undefined> | undefined;

  constructor(
    readonly manifest: SaeManifest,
    readonly provider: 'cpu' | 'webgpu',
    session: Session,
    private readonly decoder: Decoder,
    private readonly openEditIndex: (() => Promise<EditIndex | undefined>) | undefined,
  ) {
    this.#session = session;
  }

  /** The edit index, opened (and built if needed) on first use; undefined when it cannot be had. */
  #edits(): Promise<EditIndex | undefined> {
    this.#editIndex ??= (this.openEditIndex?.() ?? Promise.resolve(undefined)).catch((error: unknown) => {
      process.emitWarning(
        `sae: the edit index of ${this.manifest.id} is unavailable (${error instanceof Error ? error.message : String(error)}); set and zero edits run the full encoder`,
        { code: 'STEER_SAE_EDIT_INDEX_UNAVAILABLE' },
      );
      return undefined;
    });
    return this.#editIndex;
  }

  /**
   * Activations of the features that `set`/`zero` edits touch, from the edit index; undefined when the index is
   * unavailable or cannot decide one of them (the caller runs the full encoder).
   */
  async #editedActivations(
    query: Float32Array,
    edits: FeatureEdit[],
  ): Promise<Map<number, number> | undefined> {
    const index = await this.#edits();
    if (index === undefined) return undefined;
    const features = [...new Set(edits.filter((e) => e.op !== 'add').map((e) => e.feature))];
    let found: Awaited<ReturnType<EditIndex['activations']>>;
    try {
      found = await index.activations(query, features);
    } catch (error) {
      // The index is an optimisation: when it fails, say so once and let the encoder answer from now on.
      this.#editIndex = Promise.resolve(undefined);
      process.emitWarning(
        `sae: the edit index of ${this.manifest.id} failed (${error instanceof Error ? error.message : String(error)}); set and zero edits run the full encoder`,
        { code: 'STEER_SAE_EDIT_INDEX_UNAVAILABLE' },
      );
      await index.dispose().catch(() => {});
      return undefined;
    }
    if (!found.decided.every(Boolean)) return undefined;
    return new Map(features.map((feature, j) => [feature, found.values[j]!]));
  }

  #live(): Session {
    if (this.#session === undefined) {
      throw new SaeError(
        'runtime_disposed',
        `sae: SAE ${this.manifest.id} was disposed; load it again with loadSae()`,
      );
    }
    return this.#session;
  }

  #checkVectors(x: Float32Array, batch: number, what: string): void {
    const { dModel, embedding } = this.manifest;
    if (!Number.isInteger(batch) || batch < 0) {
      throw new SaeError(
        'invalid_input',
        `sae: batch is ${batch}; use a non-negative integer count of vectors`,
      );
    }
    if (!(x instanceof Float32Array)) {
      throw new SaeError(
        'invalid_input',
        `sae: ${what} must be a Float32Array; convert it with Float32Array.from()`,
      );
    }
    if (batch === 1 && x.length !== dModel) {
      throw new SaeError(
        'dims_mismatch',
        `sae: ${what} has ${x.length} dims but the SAE expects ${dModel} (trained on ${embedding.model}); use the SAE trained for this model`,
      );
    }
    if (x.length !== batch * dModel) {
      throw new SaeError(
        'dims_mismatch',
        `sae: ${what} has ${x.length} values for ${batch} vectors but the SAE expects ${batch} × ${dModel} = ${batch * dModel} (trained on ${embedding.model}); pass [batch, ${dModel}] row-major vectors from that model`,
      );
    }
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) {
        const row = Math.floor(i / dModel);
        throw new SaeError(
          'invalid_input',
          `sae: ${what} has ${x[i]} at vector ${row}, dim ${i - row * dModel}; embeddings must be finite, check the embedder's output`,
        );
      }
    }
  }

  /** The latents of the last few single vectors encoded, by their bytes (steering a query again skips the encoder). */
  readonly #recent = new Map<string, SparseLatents>();

  #recentKey(x: Float32Array): string {
    return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64');
  }

  /** The latents of one vector from the recent ones, or undefined. */
  #recalled(x: Float32Array): SparseLatents | undefined {
    const found = this.#recent.get(this.#recentKey(x));
    return found === undefined
      ? undefined
      : { ...found, indices: found.indices.slice(), values: found.values.slice() };
  }

  async #encodeChecked(x: Float32Array, batch: number, recall = true): Promise<SparseLatents> {
    const { dModel, k } = this.manifest;
    if (batch === 0) return { indices: new Int32Array(0), values: new Float32Array(0), batch: 0, k };
    if (batch === 1 && recall) {
      const recalled = this.#recalled(x);
      if (recalled !== undefined) return recalled;
    }
    const outputs = await this.#live().run({
      [ENCODER_INPUT]: { type: 'float32', data: x, dims: [batch, dModel] },
    });
    const values = outputs[ENCODER_VALUES]!.data as Float32Array;
    const rawIndices = outputs[ENCODER_INDICES]!.data as BigInt64Array;
    const indices = new Int32Array(rawIndices.length);
    for (let i = 0; i < rawIndices.length; i++) indices[i] = Number(rawIndices[i]!);
    if (batch === 1) {
      const key = this.#recentKey(x);
      this.#recent.delete(key);
      this.#recent.set(key, { indices: indices.slice(), values: values.slice(), batch, k });
      if (this.#recent.size > RECENT_QUERIES) this.#recent.delete(this.#recent.keys().next().value!);
    }
    return { indices, values, batch, k };
  }

  async encode(x: Float32Array, batch: number): Promise<SparseLatents> {
    this.#checkVectors(x, batch, batch === 1 ? 'query vector' : 'encode input');
    return this.#encodeChecked(x, batch);
  }

  async encodePursuit(x: Float32Array, batch: number): Promise<SparseLatents> {
    this.#checkVectors(x, batch, batch === 1 ? 'query vector' : 'pursuit input');
    this.#live();
    return pursueLatents(this.decoder, x, batch, this.manifest.k);
  }

  async encodeDense(x: Float32Array, batch: number): Promise<Float32Array> {
    const latents = await this.encode(x, batch);
    const { nLatents } = this.manifest;
    const dense = new Float32Array(batch * nLatents);
    for (let row = 0; row < batch; row++) {
      for (let t = 0; t < latents.k; t++) {
        dense[row * nLatents + latents.indices[row * latents.k + t]!] = latents.values[row * latents.k + t]!;
      }
    }
    return dense;
  }

  async decode(latents: SparseLatents): Promise<Float32Array> {
    this.#live();
    return decodeSparse(this.decoder, latents);
  }

  async encodeBatches(
    vectors: Float32Array,
    count: number,
    options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<SparseLatents> {
    const { dModel, k } = this.manifest;
    const batchSize = options.batchSize ?? 128;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new SaeError('invalid_input', `sae: batchSize is ${batchSize}; use a positive integer`);
    }
    this.#checkVectors(vectors, count, 'encodeBatches input');
    const indices = new Int32Array(count * k);
    const values = new Float32Array(count * k);
    for (let start = 0; start < count; start += batchSize) {
      const size = Math.min(batchSize, count - start);
      const part = await this.#encodeChecked(vectors.subarray(start * dModel, (start + size) * dModel), size);
      indices.set(part.indices, start * k);
      values.set(part.values, start * k);
      options.onProgress?.(start + size, count);
    }
    return { indices, values, batch: count, k };
  }

  async steer(
    query: Float32Array,
    edits: FeatureEdit[],
    options: SteerOptions = {},
  ): Promise<{ vector: Float32Array; latents: SparseLatents }> {
    this.#checkVectors(query, 1, 'query vector');
    validateEdits(edits, this.manifest.nLatents);
    const mode = options.mode ?? 'residual';
    if (mode !== 'residual' && mode !== 'reconstructed') {
      throw new SaeError(
        'invalid_input',
        `sae: steer mode ${JSON.stringify(mode)} is unknown; use "residual" or "reconstructed"`,
      );
    }
    const coding = options.coding ?? 'encoder';
    if (coding !== 'encoder' && coding !== 'pursuit') {
      throw new SaeError(
        'invalid_input',
        `sae: query coding ${JSON.stringify(coding)} is unknown; use "encoder" or "pursuit"`,
      );
    }
    const normalize = options.normalize ?? this.manifest.embedding.normalized;
    const needsLatents = mode === 'reconstructed' || edits.some((edit) => edit.op !== 'add');
    const pursued =
      coding === 'pursuit' && (needsLatents || options.returnLatents !== false)
        ? pursueLatents(this.decoder, query, 1, this.manifest.k)
        : undefined;
    // Residual set/zero edits need only the edited features' activations: the edit index answers them cheaply.
    // A query encoded a moment ago (hover, explain, the previous search) has its latents at hand already.
    const recalled =
      pursued ?? (needsLatents && options.exactEdits !== true ? this.#recalled(query) : undefined);
    const fromIndex =
      coding === 'encoder' &&
      recalled === undefined &&
      mode === 'residual' &&
      needsLatents &&
      options.returnLatents === false &&
      options.exactEdits !== true
        ? await this.#editedActivations(query, edits)
        : undefined;
    const latents =
      recalled ??
      (fromIndex === undefined && (needsLatents || options.returnLatents !== false)
        ? await this.#encodeChecked(query, 1, options.exactEdits !== true)
        : { ...EMPTY_LATENTS });
    if (mode === 'residual' && edits.length === 0) return { vector: Float32Array.from(query), latents };

    let vector: Float32Array;
    if (mode === 'residual') {
      vector = Float32Array.from(query);
      const deltas = new Map<number, number>();
      if (needsLatents) {
        const before = fromIndex ?? latentRow(latents, 0);
        // Only set/zero need the current activation; a feature that is only added to moves by exactly its adds.
        const replaced = new Set(edits.filter((e) => e.op !== 'add').map((e) => e.feature));
        const touched = new Map<number, number>();
        for (const edit of edits)
          touched.set(edit.feature, replaced.has(edit.feature) ? (before.get(edit.feature) ?? 0) : 0);
        for (const [feature, after] of applyEdits(touched, edits))
          deltas.set(feature, after - touched.get(feature)!);
      } else {
        for (const edit of edits)
          if (edit.op === 'add') deltas.set(edit.feature, (deltas.get(edit.feature) ?? 0) + edit.value);
      }
      for (const [feature, delta] of deltas) if (delta !== 0) addColumn(this.decoder, vector, feature, delta);
    } else {
      vector = Float32Array.from(this.decoder.b_dec);
      for (const [feature, value] of applyEdits(latentRow(latents, 0), edits)) {
        if (value !== 0) addColumn(this.decoder, vector, feature, value);
      }
    }
    if (normalize) normalizeInPlace(vector);
    return { vector, latents };
  }

  decoderDirection(feature: number): Float32Array {
    const { nLatents, dModel } = this.manifest;
    if (!Number.isInteger(feature) || feature < 0 || feature >= nLatents) {
      throw new SaeError(
        'feature_out_of_range',
        `sae: feature ${String(feature)} does not exist; the SAE has features 0..${nLatents - 1}`,
      );
    }
    const direction = new Float32Array(dModel);
    addColumn(this.decoder, direction, feature, 1);
    return direction;
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) await session.dispose();
    const edits = await this.#editIndex;
    this.#editIndex = undefined;
    await edits?.dispose();
  }
}
