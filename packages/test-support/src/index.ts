// @steer/test-support: what several test suites share (private, never published). The seeded PRNG is
// @steer/core's mulberry32, which production code samples with too.
export { normalize, plantedWeights } from './planted.js';
export type { PlantedOptions, PlantedWeights } from './planted.js';
