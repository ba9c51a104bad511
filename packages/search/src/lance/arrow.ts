// The one door to apache-arrow for the LanceDB backend.

import { createRequire } from 'node:module';
import type * as Arrow from 'apache-arrow';

// NOTE: @lancedb/lancedb is CommonJS and checks `instanceof` against the CommonJS build of
// apache-arrow; an ESM `import` loads the separate .mjs build, whose classes fail those checks
// ("Missing field `valueSql`" from addColumns). Loading it with require shares LanceDB's instance.
const require = createRequire(import.meta.url);

/** apache-arrow, the same module instance LanceDB uses. */
export const arrow = require('apache-arrow') as typeof Arrow;
export type { Field, Schema } from 'apache-arrow';
