import { createFixtureProject, documentWithCursor } from './dist/src/testing/index.js';
import { SteerWorkspace, createCompletionProvider } from './dist/src/index.js';
import { tokenAt } from '@steer/grammar';
import { pathToFileURL } from 'node:url';
const f = await createFixtureProject();
const ws = new SteerWorkspace({ env: {}, watchFiles: false, log: console.log });
const ctx = await ws.contextFor(pathToFileURL(f.root + '/q.steer').href);
for (const t of ['"x" +@telescope<|>', '"x" +~"salary and promot<|>']) {
const { document, position } = documentWithCursor(t);
console.log(tokenAt(document.getText(), position));
console.log((await createCompletionProvider().complete(document, position, ctx)).map(i => i.label));
}
await ws.dispose(); await f.dispose();
