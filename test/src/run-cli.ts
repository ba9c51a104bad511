// Runs the real `steer` binary in a child process, for end-to-end tests.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of the compiled CLI entry point. */
export const steerBin = fileURLToPath(new URL('../../../packages/cli/dist/src/main.js', import.meta.url));

/** Repository root (for shipped files such as the demo corpus). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `steer <args>` in `cwd` and resolves with its exit code and output; never rejects on a non-zero exit. */
export function runSteer(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [steerBin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** Parses stdout as exactly one JSON document; fails with the output when it is anything else. */
export function parseJsonOutput<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `stdout is not one JSON document (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}
