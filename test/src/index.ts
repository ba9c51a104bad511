// Helpers shared by the cross-package and end-to-end tests.
export * from './run-cli.js';
export * from './es-double.js';
export * from './toy-steering.js';
