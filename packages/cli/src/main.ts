#!/usr/bin/env node
// Entry point of the `steer` command line: dispatches to a sub-command and maps errors to exit codes.
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  interactive: Boolean(process.stderr.isTTY),
  cwd: process.cwd(),
  env: process.env,
});
