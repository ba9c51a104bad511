// `steer preset save|list|show|rm`: reusable steering stored as .steer files bound to an SAE.
import { listPresets, removePreset, savePreset, showPreset } from '@steer/presets';
import { openEngine } from '@steer/engine';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, configOptions, jsonOption, printJson } from '../options.js';

const USAGE =
  'steer preset save <name> "<edits>" [--sae <dir>] [--no-overwrite] | list | show <name> | rm <name>  [--presets <dir>] [--json]';

export const presetCommand: Command = {
  name: 'preset',
  summary: 'Save, list, show and remove steering presets (e.g. preset save career "+@salary*0.5 +@jobs*0.3")',
  usage: USAGE,
  options: {
    ...jsonOption,
    ...configOptions,
    presets: { type: 'string' },
    'no-overwrite': { type: 'boolean' },
  },
  async run(args, io) {
    const [action, name, edits, ...extra] = args.positionals;
    const config = configFromArgs(args, io);
    const dir = (args.values.presets as string | undefined) ?? config.presets;
    const json = args.values.json === true;
    const needName = () => {
      if (!name) throw new UsageError(`preset ${action} needs a preset name; usage: ${USAGE}`);
      return name;
    };
    switch (action) {
      case 'save': {
        if (!edits || extra.length > 0) {
          throw new UsageError(
            `preset save takes a name and one quoted edits argument: steer preset save career "+f12*0.5"`,
          );
        }
        if (!config.sae)
          throw new UsageError(
            'preset save needs --sae <dir> (or "sae" in steer.config.json): a preset is bound to its SAE',
          );
        const engine = await openEngine(config);
        try {
          const saved = await savePreset(dir, needName(), edits, {
            catalog: engine.featureCatalog(),
            saeId: engine.sae?.manifest.id,
            overwrite: args.values['no-overwrite'] !== true,
          });
          if (json)
            printJson(io, {
              name: saved.name,
              path: saved.path,
              saeId: saved.saeId,
              edits: saved.edits,
              diagnostics: saved.diagnostics,
            });
          else {
            for (const d of saved.diagnostics) io.stderr.write(`${d.severity}: ${d.code}: ${d.message}\n`);
            io.stdout.write(
              `saved preset '${saved.name}' (${saved.edits}) for ${saved.saeId} to ${saved.path}\n`,
            );
          }
          return 0;
        } finally {
          await engine.close();
        }
      }
      case 'list': {
        const presets = await listPresets(dir);
        if (json) printJson(io, { presets });
        else if (presets.length === 0) io.stdout.write(`no presets in ${dir}\n`);
        else
          for (const p of presets)
            io.stdout.write(`${p.name}  ${p.edits || `(${p.problem})`}  [${p.saeId ?? 'no SAE'}]\n`);
        return 0;
      }
      case 'show': {
        const preset = await showPreset(dir, needName());
        if (json) printJson(io, preset);
        else io.stdout.write(preset.text.endsWith('\n') ? preset.text : `${preset.text}\n`);
        return 0;
      }
      case 'rm': {
        await removePreset(dir, needName());
        if (json) printJson(io, { removed: name });
        else io.stdout.write(`removed preset '${name}'\n`);
        return 0;
      }
      default:
        throw new UsageError(`preset needs an action: save, list, show or rm; usage: ${USAGE}`);
    }
  },
};
