// `steer --help` and `steer <command> --help`: every option of every command is described, with its default.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../src/commands/index.js';
import { documentedOptions, optionHelp } from '../src/option-help.js';
import { runSteer } from './helpers.js';

const run = (argv: string[]) => runSteer(argv);

test('every registered command loads under its own name', async () => {
  for (const entry of commands) assert.equal((await entry.load()).name, entry.name);
});

test('every option of every command has a description and a default, and no help names a missing option', async () => {
  for (const entry of commands) {
    const command = await entry.load();
    for (const name of Object.keys(command.options)) {
      const help = optionHelp(command.name, name);
      assert.ok(help, `steer ${command.name} --${name} has no entry in option-help.ts`);
      assert.ok(help.description.length >= 10, `steer ${command.name} --${name}: describe what it does`);
      assert.ok(help.default.length > 0, `steer ${command.name} --${name}: say its default`);
    }
    for (const name of documentedOptions(command.name)) {
      assert.ok(
        name in command.options,
        `option-help.ts describes steer ${command.name} --${name}, which does not exist`,
      );
    }
  }
});

test('steer <command> --help prints each option with its description and default', async () => {
  for (const entry of commands) {
    const { code, stdout } = await run([entry.name, '--help']);
    assert.equal(code, 0);
    const command = await entry.load();
    assert.match(stdout, new RegExp(`^Usage: steer ${entry.name}`));
    const options = stdout.slice(stdout.indexOf('\nOptions:\n'));
    for (const name of Object.keys(command.options)) {
      const at = options.search(
        new RegExp(`^ {2}(-\\w, | {4})--${name}( <value>)?( \\(repeatable\\))?$`, 'm'),
      );
      assert.ok(at >= 0, `steer ${entry.name} --help lists --${name}:\n${options}`);
      const next = options.indexOf('\n  -', at + 1);
      const block = options.slice(at, next < 0 ? undefined : next).replace(/\s+/g, ' ');
      assert.ok(
        block.includes(optionHelp(entry.name, name)!.description) && block.includes('(default: '),
        `steer ${entry.name} --help describes --${name} with its default:\n${block}`,
      );
    }
  }
});

test('steer --help lists every command with its summary; an unknown command exits 2 with the list', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  for (const entry of commands) assert.match(help.stdout, new RegExp(`^  ${entry.name} +\\S`, 'm'));
  const unknown = await run(['serach']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'serach'/);
  assert.match(unknown.stderr, /search/);
});

test('steer experiment refuses an unknown --train-backend or a bad --threads before any work, exit 2', async () => {
  const backend = await run(['experiment', 'table1', '--out', 'x', '--train-backend', 'gpu']);
  assert.equal(backend.code, 2);
  assert.match(backend.stderr, /--train-backend must be onnx or wasm, not 'gpu'/);
  const threads = await run(['experiment', 'table1', '--out', 'x', '--threads', '0']);
  assert.equal(threads.code, 2);
  assert.match(threads.stderr, /--threads must be a whole number >= 1, not '0'/);
});
