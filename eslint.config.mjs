// Lint config for the whole repository (typescript-eslint, flat config), with the layering rule of
// scripts/eslint-layers.mjs and a limit on the length of functions in source.
import tseslint from 'typescript-eslint';
import steer from './scripts/eslint-layers.mjs';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/*.d.ts', '.steer/**', 'extension/out/**', '.tools/**'],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    plugins: { steer },
    rules: { 'steer/layers': 'error' },
  },
  {
    // No function over 120 lines (blank lines and comments not counted) in source, scripts, benches and the
    // e2e workspace's test/src: a longer one holds several concerns and is split along its seams (issue 16).
    // Test folders are exempt: a suite's describe() callback holds all its cases.
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    ignores: [
      'packages/*/test/**',
      'grammar/test/**',
      'es-plugin-bridge/test/**',
      'extension/test/**',
      'test/test/**',
    ],
    rules: { 'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true }] },
  },
);
