#!/usr/bin/env node
// Stand-alone entry point of the language server on stdio (what the extension bundles as out/server.js).
import { startLanguageServer } from './main.js';

startLanguageServer();
