// `steer bridge`: serves the Elasticsearch REST API on loopback, steering searches that carry a `steer` clause.
import { DEFAULT_MAX_BODY_BYTES, startBridge } from '@steer/bridge';
import type { BridgeSteering } from '@steer/bridge';
import { openEngine } from '@steer/engine';
import type { Command, CommandIO } from '../command.js';
import { UsageError } from '../command.js';
import { configFromArgs, configOptions, intOption, jsonOption, printJson } from '../options.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The `authorization` header built from the configured Elasticsearch credentials, if any. */
function configuredAuthorization(
  env: NodeJS.ProcessEnv,
  es: { apiKey?: string; username?: string; password?: string } = {},
): string | undefined {
  const apiKey = env.STEER_ES_API_KEY || es.apiKey;
  if (apiKey) return `ApiKey ${apiKey}`;
  const username = env.STEER_ES_USERNAME || es.username;
  const password = env.STEER_ES_PASSWORD || es.password;
  if (username && password) return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  return undefined;
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = stop('SIGINT');
    const onTerm = stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

export const bridgeCommand: Command = {
  name: 'bridge',
  summary: 'Serve the Elasticsearch API on loopback and steer searches that carry a "steer" clause',
  usage:
    'steer bridge --upstream <url> [--port 9400] [--host 127.0.0.1] [--max-body <bytes>] [--timeout <ms>] [--client-timeout <ms>] [--upstream-auth "<header>" | --use-config-auth] [--allow-host <host:port>] [--allow-origin <origin>] [--vector-field <f>] [--latent-field <f>] [--sae <dir>] [--json]',
  options: {
    ...jsonOption,
    ...configOptions,
    upstream: { type: 'string' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'max-body': { type: 'string' },
    timeout: { type: 'string' },
    'client-timeout': { type: 'string' },
    'upstream-auth': { type: 'string' },
    'allow-host': { type: 'string', multiple: true },
    'allow-origin': { type: 'string', multiple: true },
    'use-config-auth': { type: 'boolean' },
    'vector-field': { type: 'string' },
    'latent-field': { type: 'string' },
  },
  async run(args, io: CommandIO) {
    if (args.positionals.length > 0)
      throw new UsageError(`bridge takes no arguments, got '${args.positionals.join(' ')}'`);
    const config = configFromArgs(args, io);
    const upstream =
      (args.values.upstream as string | undefined) ?? io.env.STEER_ES_URL ?? config.elasticsearch?.url;
    if (!upstream) {
      throw new UsageError(
        'bridge needs the Elasticsearch to forward to: --upstream http://localhost:9200 (or STEER_ES_URL)',
      );
    }
    if (args.values['upstream-auth'] !== undefined && args.values['use-config-auth'] === true) {
      throw new UsageError('give --upstream-auth or --use-config-auth, not both');
    }
    let upstreamAuthorization = args.values['upstream-auth'] as string | undefined;
    if (args.values['use-config-auth'] === true) {
      upstreamAuthorization = configuredAuthorization(io.env, config.elasticsearch);
      if (!upstreamAuthorization) {
        throw new UsageError(
          '--use-config-auth found no credentials; set STEER_ES_API_KEY or STEER_ES_USERNAME and STEER_ES_PASSWORD',
        );
      }
    }
    const port = args.values.port === undefined ? 9400 : Number(args.values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0 to 65535, not '${String(args.values.port)}'`);
    const host = (args.values.host as string | undefined) ?? '127.0.0.1';
    const maxBodyBytes = intOption(args, 'max-body', DEFAULT_MAX_BODY_BYTES, 2 ** 31 - 1);
    const upstreamTimeoutMs = intOption(args, 'timeout', 30_000, 3_600_000);
    const clientTimeoutMs = intOption(args, 'client-timeout', 300_000, 3_600_000);
    const allowedHosts = (args.values['allow-host'] as string[] | undefined) ?? [];
    const allowedOrigins = (args.values['allow-origin'] as string[] | undefined) ?? [];
    if ((allowedHosts.length > 0 || allowedOrigins.length > 0) && !upstreamAuthorization) {
      throw new UsageError(
        '--allow-host and --allow-origin widen the checks made when the bridge holds credentials; give --upstream-auth or --use-config-auth with them',
      );
    }

    const engine = await openEngine(config);
    const steering: BridgeSteering = {
      resolve: (query, defaults) => engine.resolve(query, defaults),
      searchFeatures: (concept, limit) => engine.searchFeatures(concept, limit),
      explain: async ({ query, hits, top }) => {
        const resolved = await engine.resolve(query);
        return engine.explain(
          resolved.vector,
          hits.map((h) => ({ id: h.id, text: h.text, score: h.score ?? 0 })),
          top,
          { mode: resolved.mode, ...(resolved.index !== undefined ? { index: resolved.index } : {}) },
        );
      },
    };
    let bridge;
    try {
      bridge = await startBridge({
        upstream,
        steering,
        host,
        port,
        maxBodyBytes,
        upstreamTimeoutMs,
        clientTimeoutMs,
        upstreamAuthorization,
        allowedHosts,
        allowedOrigins,
        vectorField: (args.values['vector-field'] as string | undefined) ?? config.elasticsearch?.vectorField,
        latentField: args.values['latent-field'] as string | undefined,
        onError: (error) =>
          io.stderr.write(
            `steer bridge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
          ),
      });
    } catch (error) {
      await engine.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new UsageError(`port ${port} on ${host} is in use; pick another with --port`);
      if (error instanceof TypeError) throw new UsageError(error.message);
      throw error;
    }
    if (!LOOPBACK.has(host)) {
      io.stderr.write(
        `steer bridge: listening on ${host}, reachable from other machines; callers' credentials are forwarded to ${upstream}\n`,
      );
    }
    if (args.values.json) printJson(io, { url: bridge.url, upstream });
    else io.stderr.write(`steer bridge: ${bridge.url} -> ${upstream} (Ctrl-C to stop)\n`);
    const signal = await waitForSignal();
    io.stderr.write(`steer bridge: ${signal}, stopping\n`);
    await bridge.close();
    await engine.close();
    return 0;
  },
};
