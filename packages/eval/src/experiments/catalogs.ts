// The feature catalog of an experiment's SAE: built on the corpus with `steer label`'s defaults the first time,
// reused while it was built for the same SAE and corpus.
import { buildCatalog, openCatalog, type Catalog, type CorpusDocument } from '@steer/catalog';
import type { Embedder } from '@steer/embed';
import type { SaeRuntime } from '@steer/sae';
import type { ProgressSink } from './shared.js';

/**
 * Opens the catalog beside the SAE in `saeDir` for concept search with `embedder`, building it over
 * `documents` first when there is none, or it holds another SAE's or corpus' catalog, or it predates strength
 * calibration or the feedback pool of concept search.
 */
export async function experimentCatalog(
  saeDir: string,
  sae: SaeRuntime,
  embedder: Embedder,
  documents: readonly CorpusDocument[],
  onProgress?: ProgressSink,
  stage = 'label',
): Promise<Catalog> {
  const header = await openCatalog(saeDir).then(
    (catalog) => catalog.header,
    () => undefined,
  );
  if (
    !header ||
    header.corpus.documents !== documents.length ||
    !header.strength ||
    header.files['feedback.bin'] === undefined
  ) {
    await buildCatalog({
      saeDir,
      sae,
      embedder,
      documents,
      force: true,
      onProgress: (part, done, total) => onProgress?.({ stage: `${stage} ${part}`, done, total }),
    });
  }
  return openCatalog(saeDir, { embedder });
}
