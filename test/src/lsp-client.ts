// A minimal LSP client over stdio with raw JSON-RPC framing (Content-Length headers), for end-to-end tests
// of `steer lsp --stdio`. Waits are event-driven: a notification wait resolves when the message arrives.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { steerBin } from './run-cli.js';

interface Message {
  jsonrpc: '2.0';
  id?: number | string;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

interface Waiter {
  method: string;
  predicate: (params: unknown) => boolean;
  resolve: (params: unknown) => void;
}

/** A language server child process driven over its stdin/stdout. */
export class LspClient {
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly waiters: Waiter[] = [];
  /** Every notification received, in order. */
  readonly notifications: Array<{ method: string; params: unknown }> = [];
  stderr = '';
  readonly exited: Promise<number>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    void this.exited.then(() => {
      for (const { reject } of this.pending.values())
        reject(new Error(`server exited; stderr:\n${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Starts `steer lsp --stdio` in `cwd`. */
  static start(cwd: string, env: NodeJS.ProcessEnv = {}): LspClient {
    return LspClient.startScript(steerBin, ['lsp', '--stdio'], cwd, env);
  }

  /** Starts `node <script> <args>` in `cwd` (e.g. the server bundled into the extension). */
  static startScript(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): LspClient {
    const child = spawn(process.execPath, [script, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    return new LspClient(child);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString('ascii');
      const length = Number(/Content-Length: (\d+)/i.exec(header)?.[1]);
      if (!Number.isFinite(length)) throw new Error(`bad LSP header from the server: ${header}`);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as Message);
    }
  }

  private dispatch(message: Message): void {
    if (message.method !== undefined && message.id !== undefined) {
      // A request from the server (registerCapability, workDoneProgress/create, ...): accept it.
      this.send({ jsonrpc: '2.0', id: message.id, result: null });
      return;
    }
    if (message.method !== undefined) {
      this.notifications.push({ method: message.method, params: message.params });
      for (const waiter of [...this.waiters]) {
        if (waiter.method === message.method && waiter.predicate(message.params)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(message.params);
        }
      }
      return;
    }
    const pending = this.pending.get(Number(message.id));
    if (!pending) return;
    this.pending.delete(Number(message.id));
    if (message.error) pending.reject(new Error(`${message.error.code}: ${message.error.message}`));
    else pending.resolve(message.result);
  }

  private send(message: Message): void {
    const body = Buffer.from(JSON.stringify(message), 'utf8');
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }

  request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  /**
   * Resolves with the first notification `method` whose params satisfy `predicate`, among those received from
   * index `since` of {@link notifications} on (default 0: also the ones already received) and future ones.
   */
  waitFor<T>(
    method: string,
    predicate: (params: T) => boolean = () => true,
    since = 0,
    timeoutMs = 60_000,
  ): Promise<T> {
    const seen = this.notifications.slice(since).find((n) => n.method === method && predicate(n.params as T));
    if (seen) return Promise.resolve(seen.params as T);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        method,
        predicate: predicate as (p: unknown) => boolean,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p as T);
        },
      };
      // NOTE: a safety net against a hung server, not a delay: the wait ends as soon as the message arrives.
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${method} notification within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends shutdown and exit and resolves with the server's exit code. */
  async stop(): Promise<number> {
    await this.request('shutdown', null);
    this.notify('exit', null);
    this.child.stdin.end();
    return this.exited;
  }

  /** The server's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
