// Evaluation: dataset loaders, retrieval metrics and the paper's experiments.
export * from './metrics.js';
export * from './datasets.js';
export * from './run-eval.js';
export * from './report.js';
