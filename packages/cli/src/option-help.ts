// What each option of each `steer` command means and what it defaults to, for `steer <command> --help`.
// NOTE: kept apart from the option specs so that a command's parser and its help can change independently;
// test/cli/help.test.ts fails when an option has no entry here or an entry names no option.

/** The help of one option: what it does, and its default in words ("off", "required", "10"). */
export interface OptionHelp {
  description: string;
  default: string;
}

/** Options several commands share (see options.ts). */
const SHARED: Record<string, OptionHelp> = {
  json: {
    description: 'print exactly one JSON document on stdout; logs and progress go to stderr',
    default: 'off',
  },
  'data-dir': {
    description: 'folder for indexes, the embedding cache and presets',
    default: 'STEER_DATA_DIR, else "dataDir" of steer.config.json, else ./.steer',
  },
  sae: {
    description: 'SAE folder (sae.safetensors + manifest.json, with its catalog/)',
    default: 'STEER_SAE, else "sae" of steer.config.json',
  },
  embedder: {
    description:
      'embedding model: default (USE lite, 512-d), onnx:<dir> (a BERT-family ONNX export) or vectors:<file>',
    default: 'STEER_EMBEDDER, else "embedder" of steer.config.json, else default',
  },
  index: { description: 'index to read or write', default: '"index" of steer.config.json, else "default"' },
  backend: {
    description: 'search backend: embedded (LanceDB in the data folder) or elasticsearch',
    default:
      'STEER_BACKEND, else "backend" of steer.config.json, else elasticsearch when STEER_ES_URL is set, else embedded',
  },
};

/** Per command, the help of each option it declares (shared ones fall back to SHARED). */
const BY_COMMAND: Record<string, Record<string, OptionHelp>> = {
  demo: {
    dir: {
      description:
        'folder of the demo workspace: steer.config.json, demo.steer, a copy of the demo SAE and the index (.steer/)',
      default: './steer-demo',
    },
    'data-dir': {
      description: 'folder for the demo index and the embedding cache',
      default: '<dir>/.steer',
    },
  },
  search: {
    k: { description: 'hits to return (1 to 10000); a k= in the query wins', default: '10' },
    edit: {
      description:
        'an edit appended to the query: f12=+0.5 amplifies, f12=-0.5 subtracts, f12=0.3 sets, f12=off zeroes (repeatable)',
      default: 'none',
    },
    compare: { description: 'also run the query without its edits and print both lists', default: 'off' },
    explain: { description: "add each hit's top features shared with the query", default: 'off' },
    text: {
      description: 'take the argument as one plain text, even if it looks like the query language',
      default: 'off (an argument that does not parse and has no double quote is taken as text anyway)',
    },
  },
  preset: {
    presets: {
      description: 'presets folder',
      default: '"presets" of steer.config.json, else <data-dir>/presets',
    },
    'no-overwrite': {
      description: 'preset save refuses to replace a preset of the same name',
      default: 'off',
    },
  },
  index: {
    overwrite: { description: 'replace an existing index of the same name', default: 'off (add to it)' },
    batch: { description: 'texts per embedding call', default: '64' },
    similarity: {
      description: 'vector similarity of a new index: cosine, dot_product or l2_norm',
      default: 'dot_product for unit-norm embedders, else cosine',
    },
    latents: {
      description:
        "also write each document's SAE latents into a sparse_vector field (Elasticsearch; needs --sae)",
      default: 'off',
    },
    'latent-norm': {
      description:
        "with --latents, how each document's latents are scaled: l2 divides them by their norm, so sparse and hybrid search rank by cosine between codes (what steer eval's sparse row measures); none writes raw activations (the paper's dot product, which favours documents with large codes). Recorded in the index's _meta",
      default: 'l2',
    },
    resume: {
      description:
        'with --latents, skip documents whose latents are already written (refused when they were written with another --latent-norm)',
      default: 'off',
    },
  },
  embed: {
    out: { description: 'the .npy file to write (ids go to <out>.ids.json)', default: 'required' },
    batch: { description: 'texts per embedding call', default: '64' },
  },
  train: {
    embeddings: {
      description:
        'training vectors, streamed from disk: a .npy file, a folder of .npy shards (read in name order), or a JSONL file of vectors',
      default: 'one of --embeddings, --corpus or --from-index is required',
    },
    corpus: {
      description: 'a BEIR JSONL corpus to embed with --embedder and train on',
      default: 'one of --embeddings, --corpus or --from-index is required',
    },
    'from-index': {
      description:
        'train on the dense vectors an existing index stores (embedded store or Elasticsearch), without re-embedding',
      default: 'one of --embeddings, --corpus or --from-index is required',
    },
    'vector-field': {
      description: 'with --from-index: the dense_vector field to read',
      default: "the index's only dense_vector field",
    },
    'index-backend': {
      description: 'with --from-index: the store holding the index, embedded or elasticsearch',
      default:
        'STEER_BACKEND, else "backend" of steer.config.json, else elasticsearch when STEER_ES_URL is set, else embedded',
    },
    'page-size': {
      description: 'with --from-index: documents per request to the index (at most 10000)',
      default: '1000',
    },
    queries: {
      description: 'real queries for the KL groups: vectors with --embeddings, a JSONL file with --corpus',
      default: 'none (documents serve as pseudo-queries)',
    },
    qrels: {
      description: 'judgments (TSV) of --queries: the relevant documents join their groups',
      default: 'none',
    },
    embedder: {
      description: 'embedding model for --corpus: default (USE lite), onnx:<dir> or vectors:<file>',
      default: 'STEER_EMBEDDER, else "embedder" of steer.config.json, else default',
    },
    'data-dir': {
      description: 'folder of the embedding cache',
      default: 'STEER_DATA_DIR, else "dataDir" of steer.config.json, else ./.steer',
    },
    'embedding-model': {
      description: 'name of the model that made --embeddings, recorded in the SAE manifest',
      default: 'unknown',
    },
    latents: {
      description: 'number of latents (features) of the SAE',
      default: 'the power of two nearest sqrt(vectors x dims), between dims and 16 x dims (RECIPE.md)',
    },
    k: { description: 'active latents per vector (TopK)', default: 'required' },
    epochs: {
      description:
        'most passes over the training data (early stopping on the validation split may end sooner)',
      default:
        'enough to show 4 vectors per decoder weight (latents x dims), at least a million, between 10 and 100 (RECIPE.md)',
    },
    loss: {
      description:
        'scale-free: MSE divided by the data variance, KL temperature and weight calibrated on the data; paper: raw MSE + KL',
      default: 'scale-free',
    },
    'kld-weight': {
      description:
        'weight of the retrieval KL loss (scale-free: relative to the normalised MSE); 0 trains on MSE alone',
      default: '0.03 with --loss scale-free, 1 with --loss paper',
    },
    neighbours: {
      description: 'candidate documents per query group (M); 0 trains on plain rows without KL',
      default: '8',
    },
    'query-weight': {
      description: "weight of a group's query row in the reconstruction term, in document rows",
      default: 'M (the paper weighs mean over queries and mean over documents alike)',
    },
    temperature: {
      description: 'softmax temperature of the KL loss',
      default: 'scale-free: the spread of the scores within a group; paper: 1',
    },
    batch: { description: 'vectors per step (queries and their documents)', default: '512' },
    lr: { description: 'Adam learning rate (cosine schedule)', default: '0.001' },
    'aux-k': {
      description: 'dead latents revived by the AuxK loss; 0 disables it',
      default: 'embedding dims / 2',
    },
    'aux-coef': { description: 'weight of the AuxK loss', default: '1/32' },
    'dead-after': {
      description: 'rows without firing after which a latent counts as dead',
      default: 'one epoch of rows, at most 1,000,000',
    },
    'unit-norm': { description: 'keep decoder columns at unit norm: on or off', default: 'on' },
    'encoder-init': {
      description: 'encoder initialisation: decoder (its transpose) or random',
      default: 'decoder',
    },
    'bias-init': {
      description: 'decoder bias initialisation: geometric-median, mean or zero',
      default: 'geometric-median',
    },
    'pseudo-queries': {
      description: 'use documents as pseudo-queries for the KL loss: auto (when no --queries), on or off',
      default: 'auto',
    },
    'neighbour-search': {
      description:
        'how the nearest documents of the KL groups are found: exact, ivf (approximate, recall measured and printed) or auto',
      default: 'auto: exact up to 10^9 query-document pairs, ivf above',
    },
    'neighbour-recall': {
      description:
        'ivf: recall@M against exact neighbours, on 1,000 sampled queries, that the probed lists must reach',
      default: '0.9',
    },
    'checkpoint-every': {
      description: 'also write a checkpoint every this many steps within an epoch',
      default: 'every 10 minutes of training, and after every epoch',
    },
    'eval-rows': {
      description: 'measure the final MSE and dead fraction on this many vectors (evenly spaced blocks)',
      default: 'all training vectors',
    },
    validation: {
      description: 'fraction of query groups held out for validation and early stopping; 0 disables both',
      default: '0.05',
    },
    patience: {
      description:
        'epochs without validation improvement before the plateau action (--plateau); 0 never acts',
      default: '3',
    },
    plateau: {
      description:
        'what a validation plateau does: anneal (decay the learning rate linearly to zero over --anneal-epochs, then stop) or stop (at once); the best validated weights are exported either way',
      default: 'anneal',
    },
    'anneal-epochs': {
      description: 'epochs of the anneal after a plateau',
      default: 'a tenth of the epochs, at least 3',
    },
    'max-steps': {
      description: 'stop after this many steps in total and export the last weights',
      default: 'no limit',
    },
    seed: { description: 'random seed (initialisation, shuffling, validation split)', default: '0' },
    backend: {
      description: 'compute backend: auto, cuda, webgpu, onnx, wasm or cpu',
      default: 'auto (the fastest that starts)',
    },
    threads: {
      description:
        'CPU threads of the onnx backend (the SAE is the same bit for bit on any number; the TF.js backends ignore it)',
      default: 'every core',
    },
    out: { description: 'folder the trained SAE is written to', default: 'required' },
    'state-dir': { description: 'folder for checkpoints and metrics.jsonl', default: '<out>.train' },
    resume: { description: 'continue from the last checkpoint in the state folder', default: 'off' },
  },
  label: {
    corpus: {
      description: 'the BEIR JSONL corpus whose documents label the features',
      default: 'one of --corpus or --from-index is required',
    },
    'from-index': {
      description:
        'label from the texts and stored vectors of an existing index (no re-embedding; needs --text-field)',
      default: 'one of --corpus or --from-index is required',
    },
    'text-field': {
      description: "with --from-index: the field holding each document's text (every document must have it)",
      default: 'required with --from-index',
    },
    'vector-field': {
      description: 'with --from-index: the dense vector field to read',
      default: "the index's only dense vector field",
    },
    'page-size': {
      description: 'with --from-index: documents per request to the index (at most 10000)',
      default: '1000',
    },
    'top-docs': { description: 'top-activating documents kept per feature', default: '10' },
    'feedback-docs': {
      description:
        "documents kept (embeddings and SAE codes) for concept search's pseudo-relevance feedback; a seeded sample of larger corpora",
      default: '20000',
    },
    'no-feedback': {
      description: 'keep no feedback pool (concept search then uses the older profile-led score)',
      default: 'off',
    },
    'evidence-features': { description: 'features that get token evidence (word ablations)', default: '10' },
    'evidence-docs': { description: 'documents per feature examined for token evidence', default: '2' },
    'no-evidence': { description: 'skip token evidence', default: 'off' },
    limit: { description: 'label from the first N documents only', default: 'all documents' },
    'llm-url': {
      description: 'base URL of an OpenAI-compatible endpoint for LLM labels (with --llm-model)',
      default: 'STEER_LLM_BASE_URL, else keyword labels only',
    },
    'llm-model': { description: 'model name for LLM labels', default: 'STEER_LLM_MODEL' },
    'llm-features': {
      description: 'LLM labels for the N most frequent features only',
      default: 'all features',
    },
    force: {
      description: 'replace a catalog built for another SAE (its aliases are kept aside)',
      default: 'off',
    },
    batch: { description: 'texts per embedding call', default: '64' },
  },
  features: {
    limit: { description: 'features returned by features search', default: '10' },
    remove: { description: 'features alias --remove <name> deletes that alias', default: 'none' },
    plot: {
      description: 'features stats writes the rank-frequency plot to this SVG file',
      default: 'no plot',
    },
    examples: { description: 'features stats prints N example features per frequency bucket', default: '3' },
  },
  eval: {
    dataset: {
      description: 'dataset folder: BEIR layout (corpus, queries, qrels) or Cranfield',
      default: 'required',
    },
    report: { description: 'folder to write eval.md to', default: 'no report' },
  },
  experiment: {
    dataset: {
      description: 'dataset folder, BEIR layout or Cranfield (repeatable; table1 and kl)',
      default: 'required for table1 and kl',
    },
    out: { description: 'folder for the Markdown and SVG results', default: 'required' },
    cache: {
      description: 'folder for embeddings and trained SAEs reused between runs',
      default: '<data-dir>/experiments',
    },
    k: { description: 'TopK values to train, comma-separated', default: '32,64,128 for table1, 128 for kl' },
    latents: {
      description: 'latents of each trained SAE (part of the SAE cache key)',
      default: 'chosen from the corpus size',
    },
    epochs: { description: 'training epochs of each SAE', default: 'chosen from the corpus size' },
    'train-backend': {
      description: 'compute backend that trains the SAEs, onnx or wasm (part of the SAE cache key)',
      default: 'onnx',
    },
    threads: {
      description: 'CPU threads of the onnx trainer (the SAEs are the same bit for bit on any number)',
      default: 'every core',
    },
    sae: {
      description: 'an existing SAE instead of training one',
      default: 'trained (perspectives: the demo SAE)',
    },
    corpus: { description: 'labelled corpus of the perspectives experiment', default: 'the demo corpus' },
    queries: {
      description: 'queries of the perspectives experiment (JSON)',
      default: 'the demo perspective queries',
    },
    seeds: {
      description: 'training seeds, comma-separated: one SAE per seed (controllability)',
      default: '0,1,2',
    },
    'per-topic': {
      description: 'articles held out per topic as queries (controllability)',
      default: '10',
    },
  },
  bridge: {
    upstream: {
      description: 'Elasticsearch URL to forward to',
      default: 'STEER_ES_URL, else "elasticsearch.url" of steer.config.json',
    },
    port: { description: 'port to listen on (0 picks a free one)', default: '9400' },
    host: {
      description: 'address to listen on; anything but loopback is reachable from other machines',
      default: '127.0.0.1',
    },
    'max-body': {
      description: 'largest request body accepted, in bytes; larger bodies get 413',
      default: "104857600 (100 MiB, Elasticsearch's http.max_content_length)",
    },
    timeout: {
      description: 'milliseconds to wait for the upstream, counted from when the request has been sent',
      default: '30000',
    },
    'client-timeout': {
      description: 'milliseconds a caller may take to send its request; slower callers get 408',
      default: '300000',
    },
    'allow-host': {
      description:
        'host:port accepted in the Host header when the bridge holds upstream credentials (repeatable)',
      default: 'localhost, 127.0.0.1, [::1] and the --host address, at the listening port',
    },
    'allow-origin': {
      description: 'browser Origin accepted when the bridge holds upstream credentials (repeatable)',
      default: 'none',
    },
    'upstream-auth': {
      description: "authorization header sent upstream instead of the caller's",
      default: "the caller's",
    },
    'use-config-auth': {
      description:
        'send the configured credentials (STEER_ES_API_KEY or STEER_ES_USERNAME/PASSWORD) upstream',
      default: 'off',
    },
    'vector-field': {
      description: 'dense_vector field of the indexes',
      default: "discovered from each index's _mapping",
    },
    'latent-field': {
      description: 'sparse_vector field holding SAE latents (written by steer index --latents)',
      default: 'steer_latents',
    },
  },
  lsp: {
    stdio: {
      description: 'speak the Language Server Protocol on stdin/stdout (required)',
      default: 'required',
    },
  },
};

/** The help of option `name` of command `command`, or undefined when there is none. */
export function optionHelp(command: string, name: string): OptionHelp | undefined {
  return BY_COMMAND[command]?.[name] ?? SHARED[name];
}

/** Options that have help entries of their own for `command` (for the test that finds stale entries). */
export function documentedOptions(command: string): string[] {
  return Object.keys(BY_COMMAND[command] ?? {});
}
