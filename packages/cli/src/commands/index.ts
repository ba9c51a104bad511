// The registry of `steer` sub-commands, in the order `steer --help` lists them.
import type { Command } from '../command.js';
import { bridgeCommand } from './bridge.js';
import { demoCommand } from './demo.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { experimentCommand } from './experiment.js';
import { featuresCommand } from './features.js';
import { indexCommand } from './index-corpus.js';
import { labelCommand } from './label.js';
import { lspCommand } from './lsp.js';
import { presetCommand } from './preset.js';
import { searchCommand } from './search.js';
import { trainCommand } from './train.js';

export const commands: Command[] = [
  demoCommand,
  searchCommand,
  presetCommand,
  indexCommand,
  embedCommand,
  trainCommand,
  labelCommand,
  featuresCommand,
  evalCommand,
  experimentCommand,
  bridgeCommand,
  lspCommand,
];
