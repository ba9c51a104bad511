// Evaluation: dataset loaders, retrieval metrics and the paper's experiments.
export * from './metrics.js';
export * from './datasets.js';
export * from './errors.js';
export * from './run-eval.js';
export * from './report.js';
export * from './experiments/shared.js';
export * from './experiments/svg.js';
export * from './experiments/table1.js';
export * from './experiments/headroom.js';
export * from './experiments/kl.js';
export * from './experiments/amplify.js';
export * from './experiments/frequency.js';
export * from './experiments/perspectives.js';
export * from './experiments/controllability.js';
export * from './experiments/catalogs.js';
export * from './statistics.js';
export * from './provenance.js';
