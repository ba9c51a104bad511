// The registry of `steer` sub-commands, in the order `steer --help` lists them. Each is loaded when it runs, so
// that `steer lsp` or `steer search` do not load the trainer, the evaluator or the Elasticsearch client.
import type { Command } from '../command.js';

/** A sub-command by name, and how to load it. */
export interface CommandEntry {
  name: string;
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  { name: 'demo', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'search', load: async () => (await import('./search.js')).searchCommand },
  { name: 'preset', load: async () => (await import('./preset.js')).presetCommand },
  { name: 'index', load: async () => (await import('./index-corpus.js')).indexCommand },
  { name: 'embed', load: async () => (await import('./embed.js')).embedCommand },
  { name: 'train', load: async () => (await import('./train.js')).trainCommand },
  { name: 'label', load: async () => (await import('./label.js')).labelCommand },
  { name: 'features', load: async () => (await import('./features.js')).featuresCommand },
  { name: 'eval', load: async () => (await import('./eval.js')).evalCommand },
  { name: 'experiment', load: async () => (await import('./experiment.js')).experimentCommand },
  { name: 'bridge', load: async () => (await import('./bridge.js')).bridgeCommand },
  { name: 'lsp', load: async () => (await import('./lsp.js')).lspCommand },
];

/** Every command, loaded (for the overview of `steer --help`). */
export function loadAllCommands(): Promise<Command[]> {
  return Promise.all(commands.map((entry) => entry.load()));
}
