// The layers of the Steer monorepo, bottom first: a package may import only packages of lower layers, and only
// through their public doors (the `exports` of their package.json). ARCHITECTURE.md describes the same table;
// the ESLint rule `steer/layers` (scripts/eslint-layers.mjs) enforces it.
export const LAYERS = [
  // What every package shares: the error base, atomic writes, JSONL reading, the metadata filter type.
  ['@steer/core'],
  // Runtimes and contracts: onnxruntime, the search-backend contract with LanceDB, the query language; and the
  // private test support (planted SAEs), which test suites of every layer above use.
  ['@steer/onnx', '@steer/search', '@steer/grammar', '@steer/test-support'],
  // Numerics and stores: the SAE, embedders, presets, the Elasticsearch backend.
  ['@steer/sae', '@steer/embed', '@steer/presets', '@steer/elasticsearch'],
  // What is built from them: the feature catalog, the trainer, the Elasticsearch bridge.
  ['@steer/catalog', '@steer/train', '@steer/bridge'],
  // The steering pipeline and the evaluations.
  ['@steer/engine', '@steer/eval'],
  // The editor's side: the language server.
  ['@steer/language-server'],
  // Applications: the command line and the VS Code extension.
  ['@steer/cli', 'steer-vscode'],
  // Cross-package and end-to-end tests.
  ['@steer/e2e-tests'],
];

/** The layer (0 = bottom) of every package, by name. */
export const LAYER_OF = new Map(LAYERS.flatMap((names, layer) => names.map((name) => [name, layer])));
