#!/usr/bin/env node
// The `steer` executable. NOTE: a committed shim rather than dist/src/main.js itself, so that npm can link the
// bin at install time, before `tsc -b` (the root `prepare` script) has built dist/.
await import('../dist/src/main.js');
