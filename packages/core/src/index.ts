// @steer/core: what every Steer package shares and nothing else: the error base and atomic file writes.
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
