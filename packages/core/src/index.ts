// @steer/core: what every Steer package shares and nothing else: the error base, atomic file writes, JSONL
// reading and the seeded generator.
export { SteerError, isInputError } from './errors.js';
export type { SteerErrorKind } from './errors.js';
export {
  commitTemporary,
  syncFolder,
  temporarySibling,
  writeFileAtomic,
  writeFileAtomicWith,
} from './atomic-write.js';
export type { AtomicWriteOptions } from './atomic-write.js';
export { beirId, parseJsonl, readJsonl } from './jsonl.js';
export type { JsonlLine } from './jsonl.js';
export { mulberry32 } from './random.js';
export type { Filter } from './filter.js';
