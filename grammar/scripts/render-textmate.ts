// Renders the TextMate grammar as the committed file reads: JSON formatted with the repository's prettier config.
import prettier from 'prettier';
import { fileURLToPath } from 'node:url';
import { buildTextMateGrammar } from '../src/textmate.js';

/** Path of the committed grammar file (grammar/steer.tmLanguage.json). */
export const textMatePath = fileURLToPath(new URL('../../steer.tmLanguage.json', import.meta.url));

/** The exact text `npm run generate` writes. */
export async function renderTextMateGrammar(): Promise<string> {
  const config = (await prettier.resolveConfig(textMatePath)) ?? {};
  return prettier.format(JSON.stringify(buildTextMateGrammar()), {
    ...config,
    parser: 'json',
    filepath: textMatePath,
  });
}
