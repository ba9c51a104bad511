// Lint config for the whole repository (typescript-eslint, flat config), with the layering rule of
// scripts/eslint-layers.mjs.
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
);
