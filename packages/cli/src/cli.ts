// Sub-command dispatch, argument parsing and the mapping of errors to exit codes (0 ok, 1 failure, 2 bad input).
import { parseArgs } from 'node:util';
import type { Command, CommandIO } from './command.js';
import { UsageError } from './command.js';
import { commands } from './commands/index.js';
import { SearchError } from '@steer/search';

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `steer: interpretable, steerable dense retrieval\n\nUsage: steer <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`steer <command> --help\` for a command's options.\n`;
}

function commandHelp(command: Command): string {
  const options = Object.entries(command.options).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'string' ? ' <value>' : '';
    const repeat = spec.multiple ? ' (repeatable)' : '';
    return `  ${short}--${name}${value}${repeat}`;
  });
  return `Usage: ${command.usage}\n\n${command.summary}\n\nOptions:\n${options.join('\n')}\n  -h, --help\n`;
}

/** Errors of our libraries that carry a message naming the problem and the fix. */
const INPUT_ERRORS = new Set([
  'SaeError',
  'EmbedError',
  'OnnxError',
  'SearchError',
  'SteerQueryError',
  'TrainError',
  'CatalogError',
  'PresetError',
  'ConfigError',
  'EvalError',
]);

/** Error codes of our libraries that mean "the user's input or environment is wrong" (exit code 2). */
function isInputError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  if (!(error instanceof Error)) return false;
  return (
    INPUT_ERRORS.has(error.name) ||
    error instanceof SearchError ||
    (error as NodeJS.ErrnoException).code === 'ENOENT' ||
    (error as NodeJS.ErrnoException).code === 'EACCES'
  );
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.stdout.write('0.1.0\n');
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`steer: unknown command '${name}'\n\n${helpText()}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.stderr.write(`steer ${name}: ${(error as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  const json = (parsed.values as Record<string, unknown>).json === true;
  const commandIO: CommandIO = { ...io, interactive: io.interactive && !json };
  try {
    return await command.run({ positionals: parsed.positionals, values: parsed.values }, commandIO);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isInputError(error)) {
      io.stderr.write(`steer ${name}: ${message}\n`);
      return 2;
    }
    io.stderr.write(
      `steer ${name}: unexpected failure: ${error instanceof Error ? (error.stack ?? message) : message}\n`,
    );
    return 1;
  }
}
