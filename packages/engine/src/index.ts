// The steering pipeline: query text -> plan -> steered vector -> backend search.
export * from './types.js';
export * from './config.js';
export * from './engine.js';
