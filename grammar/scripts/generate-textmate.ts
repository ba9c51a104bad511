// `npm run generate -w @steer/grammar`: writes steer.tmLanguage.json from the token definitions (atomically).
import { renameSync, writeFileSync } from 'node:fs';
import { renderTextMateGrammar, textMatePath } from './render-textmate.js';

const text = await renderTextMateGrammar();
const temporary = `${textMatePath}.${process.pid}.tmp`;
writeFileSync(temporary, text);
renameSync(temporary, textMatePath);
console.log(`grammar: wrote ${textMatePath}`);
