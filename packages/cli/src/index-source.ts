// `--from-index <name>`: opens a reader on an index of the configured store (the embedded LanceDB store, or
// Elasticsearch) and copies what it stores into a local folder, resumably, with progress on stderr.
import type { SteerConfig } from '@steer/engine';
import { openElasticsearchIndexReader } from '@steer/elasticsearch';
import { openLanceIndexReader, SearchError, type IndexReader, type ReadCursor } from '@steer/search';
import type { CommandIO } from './command.js';
import { UsageError } from './command.js';
import { copyIndex, finishedCopy, savedCopyState, type IndexCopy } from './index-copy.js';
import { createProgress } from './progress.js';

/** What to read from which index, and where the copy goes. */
export interface IndexSourceRequest {
  index: string;
  /** The dense vector field (Elasticsearch: discovered from the mapping when absent). */
  vectorField?: string;
  textField?: string;
  /** The local copy's folder. */
  dir: string;
  resume: boolean;
  quiet: boolean;
  /** Documents per read (default 1,000). */
  pageSize?: number;
  /** Elasticsearch slices read in parallel (default 2). */
  slices?: number;
  /** Called with the reader before anything is copied, to refuse an index that does not fit (wrong dims). */
  check?: (reader: IndexReader) => void;
}

/** Opens the reader of `request.index` on the configured backend, reopening a saved snapshot when resuming. */
async function openReader(
  io: CommandIO,
  config: SteerConfig,
  request: IndexSourceRequest,
  saved: ReadCursor | undefined,
): Promise<{ reader: IndexReader; state: ReadCursor }> {
  if (config.backend === 'elasticsearch') {
    const reader = await openElasticsearchIndexReader(
      config.elasticsearch ?? {},
      request.index,
      {
        ...(request.vectorField !== undefined ? { vectorField: request.vectorField } : {}),
        ...(request.textField !== undefined ? { textField: request.textField } : {}),
        slices: request.slices ?? 2,
        ...(typeof saved === 'string' ? { pointInTime: saved } : {}),
      },
      { env: io.env },
    );
    return { reader, state: reader.resumeState };
  }
  const reader = await openLanceIndexReader(config.dataDir, request.index, {
    ...(request.vectorField !== undefined ? { vectorField: request.vectorField } : {}),
    ...(request.textField !== undefined ? { textField: request.textField } : {}),
    ...(typeof saved === 'number' ? { version: saved } : {}),
  });
  return { reader, state: Number(reader.snapshot.split('@').pop()) };
}

/**
 * Copies the index's vectors (and texts) into `request.dir`, continuing an unfinished copy there when resuming.
 * @returns the finished copy. @throws UsageError for a missing index, a field that is not a dense vector, a text field
 * missing on some documents, or a copy of another index; each message names the index and the field.
 */
export async function copyFromIndex(
  io: CommandIO,
  config: SteerConfig,
  request: IndexSourceRequest,
): Promise<IndexCopy> {
  if (request.resume) {
    const finished = await finishedCopy(request.dir, request.index);
    if (finished) return finished;
  }
  const saved = request.resume ? await savedCopyState(request.dir) : undefined;
  let opened: { reader: IndexReader; state: ReadCursor };
  try {
    opened = await openReader(io, config, request, saved?.resume);
  } catch (error) {
    if (error instanceof SearchError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  const { reader, state } = opened;
  try {
    request.check?.(reader);
    const progress = createProgress(io, `read index '${request.index}'`, { quiet: request.quiet });
    const copy = await copyIndex(reader, request.dir, {
      resume: request.resume,
      resumeState: state,
      ...(request.pageSize !== undefined ? { pageSize: request.pageSize } : {}),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.finish(
      `${copy.rows} ${copy.dims}-dim vectors${request.textField ? ` and '${request.textField}' texts` : ''} copied to ${copy.dir}`,
    );
    return copy;
  } catch (error) {
    if (error instanceof SearchError) throw new UsageError(error.message, { cause: error });
    throw error;
  } finally {
    await reader.close();
  }
}
