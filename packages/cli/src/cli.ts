// Sub-command dispatch, argument parsing and the mapping of errors to exit codes (0 ok, 1 failure, 2 bad input).
import { parseArgs } from 'node:util';
import { isInputError } from '@steer/core';
import type { Command, CommandIO } from './command.js';
import { commands, loadAllCommands } from './commands/index.js';
import { optionHelp } from './option-help.js';

async function helpText(): Promise<string> {
  const loaded = await loadAllCommands();
  const width = Math.max(...loaded.map((c) => c.name.length));
  const lines = loaded.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `steer: interpretable, steerable dense retrieval\n\nUsage: steer <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`steer <command> --help\` for a command's options, what each does and its default.\n`;
}

/** Wraps `text` at `width` columns, every line indented by `indent` spaces. */
function wrap(text: string, indent: number, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(' '.repeat(indent) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(' '.repeat(indent) + line);
  return lines;
}

/** `steer <command> --help`: usage, summary, and each option with what it does and its default. */
export function commandHelp(command: Command): string {
  const options = Object.entries(command.options).flatMap(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : '    ';
    const value = spec.type === 'string' ? ' <value>' : '';
    const repeat = spec.multiple ? ' (repeatable)' : '';
    const help = optionHelp(command.name, name);
    const text = help ? `${help.description} (default: ${help.default})` : '';
    return [`  ${short}--${name}${value}${repeat}`, ...wrap(text, 8)];
  });
  return `Usage: ${command.usage}\n\n${command.summary}\n\nOptions:\n${options.join('\n')}\n  -h, --help\n        print this help\n`;
}

/**
 * Exit status 2 ("the user's input or environment is wrong"): every SteerError of kind `input` (each names the
 * problem and the fix) and a missing or unreadable file; anything else is an unexpected failure (1).
 */
function isUserError(error: unknown): boolean {
  return (
    isInputError(error) ||
    (error instanceof Error &&
      ((error as NodeJS.ErrnoException).code === 'ENOENT' ||
        (error as NodeJS.ErrnoException).code === 'EACCES'))
  );
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(await helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.stdout.write('0.1.0\n');
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`steer: unknown command '${name}'\n\n${await helpText()}`);
    return 2;
  }
  const command = await entry.load();
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
    if (isUserError(error)) {
      io.stderr.write(`steer ${name}: ${message}\n`);
      return 2;
    }
    io.stderr.write(
      `steer ${name}: unexpected failure: ${error instanceof Error ? (error.stack ?? message) : message}\n`,
    );
    return 1;
  }
}
