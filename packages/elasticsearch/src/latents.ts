// Writes each document's SAE latents into a sparse_vector side field (`steer index --latents`), resumably.
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '@steer/core';
import type { Client } from '@elastic/elasticsearch';
import { ElasticsearchBackendError } from './errors.js';
import { fieldMapping, latentNormRecord } from './mapping.js';
import type { LatentNormRecord } from './mapping.js';
import { latentsToSparseVector, normalizeSparseVector } from './sparse.js';
import type { LatentNorm, LatentsLike } from './sparse.js';
import { DEFAULT_LATENT_FIELD } from './backend.js';

/** One document's latents, keyed by the id the document already has in the index. */
export interface DocumentLatents {
  id: string;
  latents: LatentsLike;
}

export interface LatentWriteProgress {
  /** Documents written or skipped so far. */
  done: number;
  total?: number;
  written: number;
  skipped: number;
  failed: number;
}

/**
 * How to resume an interrupted run.
 * - `skip-existing`: before each batch, ask the index which ids already hold the latent field and skip them.
 *   Works for any source order; costs one `_search` per 500 documents.
 * - `checkpoint`: `checkpointFile` records how many source documents are written (a contiguous prefix: every
 *   document before it is confirmed). A rerun skips that prefix, so the source must yield documents in the
 *   same order. The file is written atomically (temp + rename) and removed when the run completes.
 * - `none`: write everything.
 */
export type LatentResume = 'none' | 'skip-existing' | 'checkpoint';

export interface WriteLatentsOptions {
  /** sparse_vector field (default `steer_latents`); added to the mapping when absent. */
  field?: string;
  /**
   * `l2` (default) writes each document's latents divided by their Euclidean norm, so that sparse search ranks by
   * the cosine between codes (Steer's rule, what `steer eval`'s sparse row measures); `none` writes the raw
   * activations (the paper's rule). Recorded in the index's `_meta.steer.latents[field].norm`.
   */
  norm?: LatentNorm;
  /** Number of documents the source yields, for progress. */
  total?: number;
  onProgress?: (progress: LatentWriteProgress) => void;
  resume?: LatentResume;
  /** Checkpoint path; required with resume=`checkpoint`. */
  checkpointFile?: string;
  /** Retries of documents the cluster answers 429 (too many requests) to; default 3. */
  retries?: number;
  /** Milliseconds between those retries; default 1000 (the bulk helper's `wait`). */
  retryWaitMs?: number;
  /** Bulk request size in bytes (default 1 MiB) and parallel bulk requests (default 2). */
  flushBytes?: number;
  concurrency?: number;
}

export interface WriteLatentsResult {
  written: number;
  skipped: number;
  /** Documents refused by the cluster (first 20 kept); a rerun with a resume mode retries them. */
  failed: number;
  failures: Array<{ id: string; status: number; reason: string }>;
}

interface Checkpoint {
  index: string;
  field: string;
  done: number;
}

const SKIP_BATCH = 500;

async function readCheckpoint(file: string, index: string, field: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = JSON.parse(text) as Checkpoint;
  } catch (error) {
    throw new ElasticsearchBackendError(
      'checkpoint_mismatch',
      `latents: checkpoint ${file} is not valid JSON (${(error as Error).message}); delete it to start over`,
    );
  }
  if (
    checkpoint.index !== index ||
    checkpoint.field !== field ||
    !Number.isInteger(checkpoint.done) ||
    checkpoint.done < 0
  ) {
    throw new ElasticsearchBackendError(
      'checkpoint_mismatch',
      `latents: checkpoint ${file} belongs to index '${checkpoint.index}' field '${checkpoint.field}', not '${index}' field '${field}'; use another --checkpoint file or delete it`,
    );
  }
  return checkpoint.done;
}

async function writeCheckpointAtomically(file: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(checkpoint));
}

/** Throws `latent_field_conflict` when `field` is mapped in `mappings` as something other than sparse_vector. */
function checkLatentFieldType(mappings: unknown, index: string, field: string): 'sparse_vector' | 'absent' {
  const existing = fieldMapping(mappings, field);
  if (existing?.type === 'sparse_vector') return 'sparse_vector';
  if (existing) {
    throw new ElasticsearchBackendError(
      'latent_field_conflict',
      `latents: field '${field}' of index '${index}' is mapped as ${existing.type ?? 'an object'}, not sparse_vector; pick another latent field name`,
    );
  }
  return 'absent';
}

async function mappingsOf(client: Client, index: string): Promise<unknown> {
  const response = await client.indices.getMapping({ index });
  return Object.values(response)[0]?.mappings;
}

/** Ensures `field` is mapped as sparse_vector in `index`; throws `latent_field_conflict` when it is something else. */
export async function ensureLatentField(
  client: Client,
  index: string,
  field = DEFAULT_LATENT_FIELD,
): Promise<void> {
  if (checkLatentFieldType(await mappingsOf(client, index), index, field) === 'sparse_vector') return;
  await client.indices.putMapping({ index, properties: { [field]: { type: 'sparse_vector' } } });
}

/**
 * Records in the index's `_meta.steer.latents[field]` how the document latents of `field` are normalised, keeping
 * the rest of `_meta` (a mapping update replaces `_meta` whole). With `complete: false` the record says a run is
 * writing them (`{ norm, complete: false }`, plus `replacing: true` when it started over latents of another or no
 * recorded normalisation); the default writes the complete record `{ norm }`.
 */
export async function recordLatentNorm(
  client: Client,
  index: string,
  field: string,
  norm: LatentNorm,
  options: { complete?: boolean; replacing?: boolean } = {},
): Promise<void> {
  const asRecord = (value: unknown): Record<string, unknown> =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const meta = asRecord(asRecord(await mappingsOf(client, index))._meta);
  const steer = asRecord(meta.steer);
  const latents = asRecord(steer.latents);
  const record: LatentNormRecord =
    options.complete === false
      ? { norm, complete: false, ...(options.replacing ? { replacing: true as const } : {}) }
      : { norm };
  await client.indices.putMapping({
    index,
    _meta: { ...meta, steer: { ...steer, latents: { ...latents, [field]: record } } },
  });
}

/** What a run of writeLatents starts from, as latentWriteStart finds it. */
interface LatentWriteStart {
  /** Documents of the index hold latents not known to have the run's normalisation (see LatentNormRecord). */
  replacing: boolean;
}

/**
 * Reads what a run writing `norm` latents into `field` starts from, and throws what would make it fail: a field
 * mapped as something else (`latent_field_conflict`), or, when resuming, latents already written with another or
 * an unrecorded normalisation (`latent_norm_mismatch`): a resumed run keeps them, so it would mix the two.
 */
async function latentWriteStart(
  client: Client,
  index: string,
  field: string,
  norm: LatentNorm,
  resume: LatentResume,
): Promise<LatentWriteStart> {
  const mappings = await mappingsOf(client, index);
  if (checkLatentFieldType(mappings, index, field) === 'absent') return { replacing: false };
  const record = latentNormRecord(mappings, field);
  if (record?.norm === norm && !record.replacing) return { replacing: false };
  const { count } = await client.count({ index, query: { exists: { field } } });
  if (count === 0) return { replacing: false };
  if (resume === 'none' || record?.norm === norm) return { replacing: true };
  const written =
    record === undefined
      ? 'without a recorded normalisation (before Steer normalised document latents)'
      : `with --latent-norm ${record.norm}${record.complete === false ? ' (by a run that did not finish)' : ''}`;
  throw new ElasticsearchBackendError(
    'latent_norm_mismatch',
    `latents: index '${index}' field '${field}' holds latents written ${written}, so resuming with --latent-norm ${norm} would mix the two; rerun without --resume to rewrite them all${record === undefined ? '' : `, or resume with --latent-norm ${record.norm}`}`,
  );
}

/**
 * Starts a run: checks it (latentWriteStart; a skip-existing resume of an unfinished rewrite over other latents cannot
 * tell the documents apart, so it is refused), maps the field and records the normalisation as incomplete.
 */
async function beginLatentWrite(
  client: Client,
  index: string,
  field: string,
  norm: LatentNorm,
  resume: LatentResume,
): Promise<void> {
  const { replacing } = await latentWriteStart(client, index, field, norm, resume);
  if (replacing && resume === 'skip-existing') {
    throw new ElasticsearchBackendError(
      'latent_norm_mismatch',
      `latents: index '${index}' field '${field}' is partly rewritten with --latent-norm ${norm} by a run that did not finish, over latents of another or no recorded normalisation, and skip-existing cannot tell the rewritten documents from the others; rerun without --resume to rewrite them all (or resume with the interrupted run's checkpoint)`,
    );
  }
  await ensureLatentField(client, index, field);
  // NOTE: recorded before the first write, so a resumed run finds the normalisation its prefix was written with;
  // incomplete until every document is confirmed, so an interrupted run leaves a truthful record.
  await recordLatentNorm(client, index, field, norm, { complete: false, replacing });
}

/**
 * Checks, without writing anything, that writeLatents with the same options can start on `index`: the latent field
 * is free or a sparse_vector, and a resumed run's normalisation matches the latents already there. Call it before
 * work a refused start would waste (`steer index --latents --resume` re-adds the documents first); writeLatents
 * checks again. Throws ElasticsearchBackendError `latent_field_conflict` or `latent_norm_mismatch`.
 */
export async function checkLatentWrite(
  client: Client,
  index: string,
  options: Pick<WriteLatentsOptions, 'field' | 'norm' | 'resume'> = {},
): Promise<void> {
  await latentWriteStart(
    client,
    index,
    options.field ?? DEFAULT_LATENT_FIELD,
    options.norm ?? 'l2',
    options.resume ?? 'none',
  );
}

/**
 * The checkpoint's contiguous watermark: documents are numbered in the order they are read, the cluster confirms
 * them in any order, and every document before `done` is confirmed. `save` records it at most every 250 ms.
 */
class Watermark {
  private readonly pending = new Map<string, number[]>();
  private readonly confirmed = new Set<number>();
  private lastSavedAt = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    public done: number,
    private readonly save?: (done: number) => Promise<void>,
  ) {}

  /** Document number `seq` is on its way under `id`. */
  expect(id: string, seq: number): void {
    const seqs = this.pending.get(id) ?? [];
    seqs.push(seq);
    this.pending.set(id, seqs);
  }

  /** The number of the oldest document on its way under `id`, no longer pending; undefined when there is none. */
  settle(id: string | undefined): number | undefined {
    if (id === undefined) return undefined;
    const seqs = this.pending.get(id);
    const seq = seqs?.shift();
    if (seqs && seqs.length === 0) this.pending.delete(id);
    return seq;
  }

  /** Document number `seq` is done; moves the watermark over every done document and saves it now and then. */
  confirm(seq: number): void {
    this.confirmed.add(seq);
    while (this.confirmed.delete(this.done)) this.done++;
    if (this.save && Date.now() - this.lastSavedAt > 250) {
      this.lastSavedAt = Date.now();
      const done = this.done;
      const save = this.save;
      this.saving = this.saving.then(() => save(done));
    }
  }

  /** Resolves when every save started so far is written. */
  saved(): Promise<void> {
    return this.saving;
  }
}

/**
 * Writes each document's latents (positive activations, keys `f<id>`; divided by their norm with `norm` `l2`, the
 * default) into the sparse_vector `field` of the documents already in `index`, records the normalisation in the
 * index's `_meta` (incomplete until every document is confirmed, see LatentNormRecord), with partial updates through `client.helpers.bulk`: 429s are retried, progress
 * is reported per confirmed document, and an interrupted run can resume (see LatentResume).
 * Returns counts; documents the cluster refuses (e.g. missing ids) are counted in `failed`, not thrown.
 * Throws ElasticsearchBackendError on a mapping conflict, a checkpoint that belongs to another index, or a resumed
 * run whose normalisation differs from the latents already written (`latent_norm_mismatch`, also for a
 * skip-existing resume of an unfinished rewrite over other latents, whose documents it cannot tell apart).
 */
export async function writeLatents(
  client: Client,
  index: string,
  source: AsyncIterable<DocumentLatents> | Iterable<DocumentLatents>,
  options: WriteLatentsOptions = {},
): Promise<WriteLatentsResult> {
  const field = options.field ?? DEFAULT_LATENT_FIELD;
  const resume = options.resume ?? 'none';
  const norm = options.norm ?? 'l2';
  if (resume === 'checkpoint' && !options.checkpointFile) {
    throw new ElasticsearchBackendError(
      'invalid_request',
      'latents: resume=checkpoint needs a checkpointFile path',
    );
  }
  await beginLatentWrite(client, index, field, norm, resume);
  const checkpointFile = resume === 'checkpoint' ? options.checkpointFile : undefined;
  const resumeFrom = checkpointFile ? await readCheckpoint(checkpointFile, index, field) : 0;

  let written = 0;
  let skipped = 0;
  let failed = 0;
  const failures: WriteLatentsResult['failures'] = [];
  const watermark = new Watermark(
    resumeFrom,
    checkpointFile ? (done) => writeCheckpointAtomically(checkpointFile, { index, field, done }) : undefined,
  );
  const report = (): void => {
    options.onProgress?.({ done: written + skipped, total: options.total, written, skipped, failed });
  };

  const idsOf = new WeakMap<object, string>();
  async function* updates(): AsyncGenerator<Record<string, Record<string, number>>> {
    let seq = 0;
    let batch: Array<{ seq: number; doc: DocumentLatents }> = [];
    const flush = async function* (): AsyncGenerator<Record<string, Record<string, number>>> {
      let existing = new Set<string>();
      if (resume === 'skip-existing' && batch.length > 0) {
        const response = await client.search({
          index,
          size: batch.length,
          _source: false,
          query: {
            bool: { filter: [{ ids: { values: batch.map((b) => b.doc.id) } }, { exists: { field } }] },
          },
        });
        existing = new Set(response.hits.hits.map((h) => h._id!));
      }
      for (const { seq: s, doc } of batch) {
        if (existing.has(doc.id)) {
          skipped++;
          watermark.confirm(s);
          report();
          continue;
        }
        const weights = latentsToSparseVector(doc.latents);
        const update = { [field]: norm === 'l2' ? normalizeSparseVector(weights) : weights };
        idsOf.set(update, doc.id);
        watermark.expect(doc.id, s);
        yield update;
      }
      batch = [];
    };
    for await (const doc of source) {
      const s = seq++;
      if (s < resumeFrom) {
        skipped++;
        report();
        continue;
      }
      if (typeof doc.id !== 'string' || doc.id === '') {
        throw new ElasticsearchBackendError(
          'invalid_document',
          `latents: document #${s} has no id; give every document its index id`,
        );
      }
      batch.push({ seq: s, doc });
      if (resume !== 'skip-existing' || batch.length >= SKIP_BATCH) yield* flush();
    }
    yield* flush();
  }

  await client.helpers.bulk<Record<string, Record<string, number>>>({
    datasource: updates(),
    onDocument: (update) => [{ update: { _index: index, _id: idsOf.get(update)! } }, {}],
    onSuccess: ({ result }) => {
      const seq = watermark.settle(result.update?._id ?? undefined);
      written++;
      if (seq !== undefined) watermark.confirm(seq);
      report();
    },
    onDrop: (drop) => {
      const id = (drop.operation as { update?: { _id?: string } }).update?._id ?? '';
      watermark.settle(id);
      failed++;
      if (failures.length < 20) {
        failures.push({
          id,
          status: drop.status,
          reason: drop.error
            ? `${drop.error.type}: ${drop.error.reason ?? ''}`
            : 'too many requests (429) after retries',
        });
      }
      report();
    },
    retries: options.retries ?? 3,
    wait: options.retryWaitMs ?? 1000,
    flushBytes: options.flushBytes ?? 1024 * 1024,
    concurrency: options.concurrency ?? 2,
    refreshOnCompletion: index,
  });
  await watermark.saved();
  if (checkpointFile) {
    if (failed === 0) await rm(checkpointFile, { force: true });
    else await writeCheckpointAtomically(checkpointFile, { index, field, done: watermark.done });
  }
  if (failed === 0) await recordLatentNorm(client, index, field, norm);
  return { written, skipped, failed, failures };
}
