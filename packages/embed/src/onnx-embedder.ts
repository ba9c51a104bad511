// Embedder over a BERT-family ONNX export (optimum layout): WordPiece tokenization, padded batches,
// CLS or masked-mean pooling, optional L2 normalization and a query instruction prefix.
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createSession, type Session, type Tensor } from '@steer/onnx';
import { checkEmbedInput, normalizeRows, type EmbedOptions, type Embedder } from './embedder.js';
import { EmbedError, describeError } from './errors.js';
import { WordPieceTokenizer, type Encoding } from './wordpiece.js';

/** Options of {@link loadOnnxEmbedder}; each overrides what the model folder says. */
export interface OnnxEmbedderOptions {
  /** `cls` (first token) or `mean` (average over real tokens); default from `1_Pooling/config.json`, else cls for BGE, else mean. */
  pooling?: 'cls' | 'mean';
  /** Text put before every query (kind `query`); BGE models default to their retrieval instruction. */
  queryPrefix?: string;
  /** Most tokens per text, special tokens included; default min(tokenizer truncation, max_position_embeddings, 512). */
  maxLength?: number;
  /** L2-normalize the vectors; default true. */
  normalize?: boolean;
  /** Embedder id; default `onnx:<folder name>`. */
  id?: string;
  /** Texts per model run; default 32. */
  batchSize?: number;
}

/** The instruction BGE v1.5 English models expect before retrieval queries. */
export const BGE_QUERY_PREFIX = 'Represent this sentence for searching relevant passages: ';

async function readJsonIfPresent(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch (error) {
    throw new EmbedError(
      'invalid_file',
      `embed: ${path} is not valid JSON (${describeError(error)}); fix or delete it`,
      {
        cause: error,
      },
    );
  }
}

/**
 * Loads an ONNX embedding model from a folder holding `model.onnx` and `tokenizer.json` (optionally `config.json`
 * and sentence-transformers' `1_Pooling/config.json`). Inputs `input_ids`, `attention_mask` and, when the model
 * has it, `token_type_ids` (int64); output `sentence_embedding` when present, else `last_hidden_state` [b, seq, h].
 * @returns an embedder whose dims are read from a probe run.
 * @throws EmbedError `file_unreadable`, `invalid_tokenizer`, `invalid_input` (bad options) or `model_failed`.
 */
export async function loadOnnxEmbedder(dir: string, options: OnnxEmbedderOptions = {}): Promise<Embedder> {
  const folder = resolve(dir);
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new EmbedError(
      'invalid_input',
      `embed: batchSize is ${batchSize}; use a positive integer such as 32`,
    );
  }
  if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 3)) {
    throw new EmbedError(
      'invalid_input',
      `embed: maxLength is ${options.maxLength}; use an integer of at least 3 (e.g. 512)`,
    );
  }
  if (options.pooling !== undefined && options.pooling !== 'cls' && options.pooling !== 'mean') {
    throw new EmbedError(
      'invalid_input',
      `embed: pooling "${String(options.pooling)}" is unknown; use "cls" or "mean"`,
    );
  }
  const tokenizer = await WordPieceTokenizer.load(join(folder, 'tokenizer.json'));
  const config = await readJsonIfPresent(join(folder, 'config.json'));
  const poolingConfig = await readJsonIfPresent(join(folder, '1_Pooling', 'config.json'));
  const modelName = `${basename(folder)} ${typeof config?.['_name_or_path'] === 'string' ? config['_name_or_path'] : ''}`;
  const isBge = /bge-/i.test(modelName);

  let pooling: 'cls' | 'mean' = options.pooling ?? (isBge ? 'cls' : 'mean');
  if (options.pooling === undefined && poolingConfig !== undefined) {
    if (poolingConfig['pooling_mode_cls_token'] === true) pooling = 'cls';
    else if (poolingConfig['pooling_mode_mean_tokens'] === true) pooling = 'mean';
  }
  const positions =
    typeof config?.['max_position_embeddings'] === 'number' ? config['max_position_embeddings'] : 512;
  const maxLength = options.maxLength ?? Math.min(tokenizer.fileMaxLength ?? 512, positions);
  const queryPrefix = options.queryPrefix ?? (isBge ? BGE_QUERY_PREFIX : '');
  const normalize = options.normalize ?? true;
  const id = options.id ?? `onnx:${basename(folder)}`;

  let session: Session;
  try {
    session = await createSession(join(folder, 'model.onnx'));
  } catch (error) {
    const code = (error as { code?: string }).code === 'model_not_found' ? 'file_unreadable' : 'model_failed';
    throw new EmbedError(code, `embed: cannot load ${join(folder, 'model.onnx')}: ${describeError(error)}`, {
      cause: error,
    });
  }
  for (const name of ['input_ids', 'attention_mask']) {
    if (!session.inputNames.includes(name)) {
      await session.dispose();
      throw new EmbedError(
        'model_failed',
        `embed: ${join(folder, 'model.onnx')} has inputs ${session.inputNames.join(', ')} but no "${name}"; export it with optimum (feature-extraction)`,
      );
    }
  }
  const output = session.outputNames.includes('sentence_embedding')
    ? 'sentence_embedding'
    : session.outputNames.includes('last_hidden_state')
      ? 'last_hidden_state'
      : undefined;
  if (output === undefined) {
    await session.dispose();
    throw new EmbedError(
      'model_failed',
      `embed: ${join(folder, 'model.onnx')} has outputs ${session.outputNames.join(', ')}; expected "last_hidden_state" or "sentence_embedding"`,
    );
  }
  const embedder = new OnnxEmbedder(session, tokenizer, {
    id,
    pooling,
    maxLength,
    queryPrefix,
    normalize,
    batchSize,
    output,
    useTokenTypes: session.inputNames.includes('token_type_ids'),
  });
  try {
    await embedder.probe();
  } catch (error) {
    await session.dispose();
    throw error;
  }
  return embedder;
}

interface OnnxEmbedderSettings {
  id: string;
  pooling: 'cls' | 'mean';
  maxLength: number;
  queryPrefix: string;
  normalize: boolean;
  batchSize: number;
  output: 'sentence_embedding' | 'last_hidden_state';
  useTokenTypes: boolean;
}

class OnnxEmbedder implements Embedder {
  readonly id: string;
  readonly normalized: boolean;
  #dims = 0;
  #session: Session | undefined;

  constructor(
    session: Session,
    private readonly tokenizer: WordPieceTokenizer,
    private readonly settings: OnnxEmbedderSettings,
  ) {
    this.#session = session;
    this.id = settings.id;
    this.normalized = settings.normalize;
  }

  get dims(): number {
    return this.#dims;
  }

  /** Runs one empty text to learn the hidden size and check the model's outputs. */
  async probe(): Promise<void> {
    const [vector] = await this.#runBatch([this.tokenizer.encode('', this.settings.maxLength)]);
    this.#dims = vector!.length;
  }

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array> {
    const kind = checkEmbedInput(`embed (${this.id})`, texts, options);
    if (this.#session === undefined) {
      throw new EmbedError(
        'disposed',
        `embed (${this.id}): embed() called after dispose(); load the embedder again`,
      );
    }
    const prefix = kind === 'query' ? this.settings.queryPrefix : '';
    const encodings = texts.map((text) => this.tokenizer.encode(prefix + text, this.settings.maxLength));
    // NOTE: texts are batched by token count so that a batch pads little; padding does not change results.
    const order = encodings
      .map((_, i) => i)
      .sort((a, b) => encodings[a]!.ids.length - encodings[b]!.ids.length);
    const out = new Float32Array(texts.length * this.#dims);
    for (let start = 0; start < order.length; start += this.settings.batchSize) {
      const indices = order.slice(start, start + this.settings.batchSize);
      const vectors = await this.#runBatch(indices.map((i) => encodings[i]!));
      indices.forEach((row, k) => out.set(vectors[k]!, row * this.#dims));
    }
    return out;
  }

  async #runBatch(batch: Encoding[]): Promise<Float32Array[]> {
    const session = this.#session!;
    const seq = Math.max(...batch.map((e) => e.ids.length));
    const count = batch.length;
    const inputIds = new BigInt64Array(count * seq).fill(BigInt(this.tokenizer.padId));
    const attentionMask = new BigInt64Array(count * seq);
    const typeIds = new BigInt64Array(count * seq);
    batch.forEach((encoding, b) => {
      for (let t = 0; t < encoding.ids.length; t++) {
        inputIds[b * seq + t] = BigInt(encoding.ids[t]!);
        attentionMask[b * seq + t] = 1n;
        typeIds[b * seq + t] = BigInt(encoding.typeIds[t]!);
      }
    });
    const dims = [count, seq];
    const feeds: Record<string, Tensor> = {
      input_ids: { type: 'int64', data: inputIds, dims },
      attention_mask: { type: 'int64', data: attentionMask, dims },
    };
    if (this.settings.useTokenTypes) feeds['token_type_ids'] = { type: 'int64', data: typeIds, dims };
    let result: Tensor;
    try {
      result = (await session.run(feeds, [this.settings.output]))[this.settings.output]!;
    } catch (error) {
      throw new EmbedError(
        'model_failed',
        `embed (${this.id}): the model failed on a batch of ${count}: ${describeError(error)}`,
        {
          cause: error,
        },
      );
    }
    if (result.type !== 'float32') {
      throw new EmbedError(
        'model_failed',
        `embed (${this.id}): output ${this.settings.output} is ${result.type}, not float32`,
      );
    }
    const data = result.data as Float32Array;
    const vectors: Float32Array[] = [];
    if (this.settings.output === 'sentence_embedding') {
      if (result.dims.length !== 2 || result.dims[0] !== count) {
        throw new EmbedError(
          'dims_mismatch',
          `embed (${this.id}): sentence_embedding has shape [${result.dims.join(', ')}]; expected [${count}, hidden]`,
        );
      }
      const hidden = result.dims[1]!;
      for (let b = 0; b < count; b++) vectors.push(data.slice(b * hidden, (b + 1) * hidden));
    } else {
      if (result.dims.length !== 3 || result.dims[0] !== count || result.dims[1] !== seq) {
        throw new EmbedError(
          'dims_mismatch',
          `embed (${this.id}): last_hidden_state has shape [${result.dims.join(', ')}]; expected [${count}, ${seq}, hidden]`,
        );
      }
      const hidden = result.dims[2]!;
      batch.forEach((encoding, b) => {
        const vector = new Float32Array(hidden);
        const rowStart = b * seq * hidden;
        if (this.settings.pooling === 'cls') {
          vector.set(data.subarray(rowStart, rowStart + hidden));
        } else {
          const tokens = encoding.ids.length;
          const sums = new Float64Array(hidden);
          for (let t = 0; t < tokens; t++) {
            for (let j = 0; j < hidden; j++) sums[j]! += data[rowStart + t * hidden + j]!;
          }
          for (let j = 0; j < hidden; j++) vector[j] = sums[j]! / Math.max(tokens, 1);
        }
        vectors.push(vector);
      });
    }
    if (this.#dims !== 0 && vectors[0]!.length !== this.#dims) {
      throw new EmbedError(
        'dims_mismatch',
        `embed (${this.id}): the model returned ${vectors[0]!.length} dims after ${this.#dims} before; the model output is inconsistent`,
      );
    }
    if (this.settings.normalize) for (const vector of vectors) normalizeRows(vector, vector.length);
    return vectors;
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) await session.dispose();
  }
}
