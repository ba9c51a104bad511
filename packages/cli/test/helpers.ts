// What the CLI's test files share: a stream that keeps what is written to it, and `steer` run in-process.
import { Writable } from 'node:stream';
import { runCli } from '../src/cli.js';

/** A writable stream whose `text` is everything written to it. */
export function textSink(): Writable & { text: string } {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      stream.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  stream.text = '';
  return stream;
}

/** Runs `steer <argv>` in this process in `cwd`, non-interactive, with an empty environment. */
export async function runSteer(
  argv: string[],
  cwd: string = process.cwd(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textSink();
  const stderr = textSink();
  const code = await runCli(argv, { stdout, stderr, interactive: false, cwd, env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
