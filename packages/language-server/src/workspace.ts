// Projects of the open documents: one per steer.config.json (found upwards from each file, as the CLI does),
// each with its catalog, presets, embedder, SAE and engine, loaded lazily and dropped when the config changes.
// NOTE: the heavy packages (catalog, sae, engine) are imported dynamically and the embedder runs in a worker
// thread, so the server answers from the catalog's labels while models load, and says why a feature is off when
// a native runtime cannot load.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Catalog } from '@steer/catalog';
import type { Embedder } from '@steer/embed';
import type { SteerEngine } from '@steer/engine';
import type { SteerConfig } from '@steer/engine/config';
import type { Diagnostic } from '@steer/grammar';
import { FolderPresetStore, listPresets } from '@steer/presets';
import type { QueryCoding, SaeRuntime } from '@steer/sae';
import {
  featureNames,
  featureWords,
  type DocumentContext,
  type LspCatalog,
  type TextActivation,
} from './context.js';
import { ServerDiagnosticCode } from './diagnostics.js';
import { explainLoadFailure, runtimeFix } from './load-failure.js';
import type { ProjectProblemParams } from './protocol.js';
import { preloadStopWords } from './stop-words.js';
import { startWorkerEmbedder } from './worker-embedder.js';

export const CONFIG_FILE_NAME = 'steer.config.json';

/** Milliseconds between opening a project's catalog and loading its embedder in the background. */
export const WARM_UP_DELAY_MS = 250;

/** One configured project: the services behind a steer.config.json (or the environment when there is none). */
export interface Project {
  readonly key: string;
  readonly configFile: string | undefined;
  /** The provider context (catalog, presets, text analysis, project problems). Never rejects. */
  context(): Promise<DocumentContext>;
  /** The configuration; throws ConfigError when steer.config.json is invalid. */
  config(): Promise<SteerConfig>;
  /** The search engine of this project (opens the backend on first use). */
  engine(): Promise<SteerEngine>;
  dispose(): Promise<void>;
}

export interface WorkspaceOptions {
  /** Environment read with the config file (STEER_SAE, STEER_EMBEDDER, ...). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where log lines go (the server's log channel). */
  log?: (message: string) => void;
  /** Called after a project was dropped because its config file changed. */
  onConfigChanged?: (configFile: string) => void;
  /**
   * Called once per problem that turns features off in a project (to show it beyond the Problems panel); when
   * absent, problems go to `log`.
   */
  onProblem?: (problem: ProjectProblemParams) => void;
  /** Called when a project's context changed after it was first handed out (the embedder loaded or failed). */
  onContextChanged?: () => void;
  /** Milliseconds between opening a catalog and loading the embedder (default {@link WARM_UP_DELAY_MS}). */
  warmUpDelayMs?: number;
  /** Watch config folders with fs.watch (default true); clients may also send didChangeWatchedFiles. */
  watchFiles?: boolean;
  /**
   * Loads the embedder of a config (default: in a worker thread, {@link startWorkerEmbedder}). Tests pass one
   * that loads in-process.
   */
  loadEmbedder?: (spec: string, cacheDir: string) => Promise<Embedder>;
}

function documentDir(uri: string): string {
  return uri.startsWith('file:') ? dirname(fileURLToPath(uri)) : process.cwd();
}

function problem(code: string, message: string, severity: Diagnostic['severity'] = 'error'): Diagnostic {
  return {
    code,
    message,
    severity,
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
  };
}

function messageOf(cause: unknown): string {
  return (cause as Error)?.message ?? String(cause);
}

class ConfiguredProject implements Project {
  private contextPromise: Promise<DocumentContext> | undefined;
  private enginePromise: Promise<SteerEngine> | undefined;
  private catalogPromise: Promise<Catalog | undefined> | undefined;
  private embedderPromise: Promise<Embedder> | undefined;
  private lastQuery: { key: string; vector: Promise<Float32Array> } | undefined;
  private saePromise: Promise<SaeRuntime> | undefined;
  private configPromise: Promise<SteerConfig> | undefined;
  private disposed = false;

  constructor(
    readonly key: string,
    readonly configFile: string | undefined,
    private readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly options: WorkspaceOptions,
  ) {}

  private log(message: string): void {
    this.options.log?.(message);
  }

  /** Records a project problem: a diagnostic on every document, a log line, and one client notification. */
  private report(
    context: DocumentContext,
    code: string,
    severity: 'error' | 'warning',
    message: string,
    fix: string,
  ): void {
    const text = `steer: ${message}; ${fix}`;
    context.problems.push(problem(code, text, severity));
    if (this.disposed) return;
    if (!this.options.onProblem) this.log(text);
    this.options.onProblem?.({
      severity,
      message: `steer: ${message}`,
      fix,
      ...(this.configFile ? { configFile: this.configFile } : {}),
    });
  }

  /**
   * Reports that a part of the project failed to load with `cause`: `what` says what failed (given the cause's
   * first line); a native runtime that cannot load is an error with the runtime fix, anything else gets `fix`.
   * Returns the message, for hover.
   */
  private reportFailure(
    context: DocumentContext,
    code: string,
    cause: unknown,
    what: (cause: string) => string,
    fix: string,
  ): string {
    const failure = explainLoadFailure(cause);
    const severity = failure.runtime || code === ServerDiagnosticCode.ConfigInvalid ? 'error' : 'warning';
    this.report(
      context,
      code,
      severity,
      what(failure.cause),
      failure.runtime ? runtimeFix(failure.runtime) : fix,
    );
    return context.problems.at(-1)!.message as string;
  }

  config(): Promise<SteerConfig> {
    // NOTE: the config module alone, so that reading steer.config.json does not load LanceDB or Elasticsearch.
    this.configPromise ??= import('@steer/engine/config').then(({ loadConfig }) =>
      loadConfig(this.dir, this.env),
    );
    return this.configPromise;
  }

  private embedder(config: SteerConfig): Promise<Embedder> {
    const load = this.options.loadEmbedder ?? startWorkerEmbedder;
    this.embedderPromise ??= load(config.embedder, join(config.dataDir, 'cache'));
    return this.embedderPromise;
  }

  private sae(config: SteerConfig): Promise<SaeRuntime> {
    const dir = config.sae;
    if (!dir) return Promise.reject(new Error('no SAE is configured; set "sae" in steer.config.json'));
    this.saePromise ??= import('@steer/sae').then(({ loadSae }) => loadSae(dir));
    return this.saePromise;
  }

  private catalog(config: SteerConfig): Promise<Catalog | undefined> {
    const dir = config.sae;
    this.catalogPromise ??= dir
      ? import('@steer/catalog').then(({ openCatalog }) =>
          openCatalog(dir, { missing: 'empty', loadEmbedder: () => this.embedder(config) }),
        )
      : Promise.resolve(undefined);
    return this.catalogPromise;
  }

  context(): Promise<DocumentContext> {
    this.contextPromise ??= this.buildContext();
    return this.contextPromise;
  }

  private async buildContext(): Promise<DocumentContext> {
    let config: SteerConfig;
    try {
      config = await this.config();
    } catch (cause) {
      const context: DocumentContext = { problems: [] };
      context.featuresUnavailable = this.reportFailure(
        context,
        ServerDiagnosticCode.ConfigInvalid,
        cause,
        (why) => `cannot read the configuration (${why})`,
        `fix ${this.configFile ?? 'the STEER_* environment variables'}`,
      );
      return context;
    }
    const presetsDir = config.presets;
    const context: DocumentContext = {
      presets: { store: new FolderPresetStore(presetsDir), list: () => listPresets(presetsDir) },
      problems: [],
    };
    if (!config.sae) {
      context.featuresUnavailable = `no SAE is configured (set "sae" in ${this.configFile ?? 'steer.config.json, or STEER_SAE'})`;
      return context;
    }
    let catalog: Catalog | undefined;
    try {
      catalog = await this.catalog(config);
    } catch (cause) {
      context.featuresUnavailable = this.reportFailure(
        context,
        ServerDiagnosticCode.CatalogUnavailable,
        cause,
        (why) =>
          `cannot open the feature catalog of ${config.sae} (${why}); feature checks, hover and completion are off`,
        `fix the SAE folder or "sae" in ${this.configFile ?? 'STEER_SAE'}`,
      );
      return context;
    }
    if (!catalog) return context;
    context.catalog = catalog as LspCatalog;
    // Build the name indexes for completion now rather than on the first keystroke (~0.6 s at 196k features).
    setImmediate(() => {
      featureNames(catalog);
      featureWords(catalog);
      preloadStopWords();
    });
    this.warmUp(config, catalog, context);
    return context;
  }

  /**
   * Loads what concept search and text hovers need (the embedder, in a worker, and the catalog's dense scorer) in
   * the background, {@link WARM_UP_DELAY_MS} after the catalog opened; until then completion answers from labels
   * and aliases. A request that needs the embedder earlier (a concept in a document) loads it at once.
   */
  private warmUp(config: SteerConfig, catalog: Catalog, context: DocumentContext): void {
    let ready = false;
    context.conceptSearchReady = () => ready;
    context.warmedUp = (async () => {
      // NOTE: the model load competes for the CPU with the first requests of a starting editor; let those go first.
      await new Promise((resolve) => setTimeout(resolve, this.options.warmUpDelayMs ?? WARM_UP_DELAY_MS));
      if (this.disposed) return;
      let embedder: Embedder;
      try {
        embedder = await this.embedder(config);
      } catch (cause) {
        this.reportFailure(
          context,
          ServerDiagnosticCode.CatalogUnavailable,
          cause,
          (why) =>
            `cannot load the embedder "${config.embedder}" (${why}); concept search, text hovers and Run Query are off`,
          'set "embedder" in steer.config.json to the SAE\'s model',
        );
        this.options.onContextChanged?.();
        return;
      }
      const manifest = catalog.manifest;
      if (embedder.dims !== manifest.dModel) {
        context.problems.push(
          problem(
            ServerDiagnosticCode.EmbedderMismatch,
            `steer: the embedder ${embedder.id} gives ${embedder.dims}-d vectors but SAE ${manifest.id} expects ${manifest.dModel} (trained on ${manifest.embedding.model}); set "embedder" in steer.config.json to the SAE's model`,
          ),
        );
        this.options.onContextChanged?.();
        return;
      }
      if (embedder.id !== manifest.embedding.model) {
        context.problems.push(
          problem(
            ServerDiagnosticCode.EmbedderMismatch,
            `steer: the embedder is ${embedder.id} but SAE ${manifest.id} was trained on ${manifest.embedding.model}; its features may not mean what their labels say — use the SAE's embedding model`,
            'warning',
          ),
        );
        this.options.onContextChanged?.();
        return;
      }
      context.analyzeText = (text, limit, coding) => this.analyzeText(config, catalog, text, limit, coding);
      context.queryCode = config.queryCode;
      context.steerMode = config.steerMode;
      context.queryNorm = (texts) => this.queryNorm(config, texts);
      context.crossover = (texts, direction) => this.crossover(config, catalog, texts, direction);
      try {
        await catalog.warmUp();
        ready = true;
      } catch (cause) {
        this.reportFailure(
          context,
          ServerDiagnosticCode.CatalogUnavailable,
          cause,
          (why) => `cannot prepare concept search over ${config.sae} (${why}); completion by concept is off`,
          'check the SAE folder (sae.safetensors)',
        );
        this.options.onContextChanged?.();
      }
    })();
  }

  private async analyzeText(
    config: SteerConfig,
    catalog: Catalog,
    text: string,
    limit: number,
    coding: QueryCoding,
  ): Promise<TextActivation[]> {
    const [embedder, sae] = await Promise.all([this.embedder(config), this.sae(config)]);
    const vector = await embedder.embed([text], { kind: 'query' });
    const latents = coding === 'pursuit' ? await sae.encodePursuit(vector, 1) : await sae.encode(vector, 1);
    const out: TextActivation[] = [];
    for (let i = 0; i < latents.k && out.length < limit; i++) {
      const activation = latents.values[i]!;
      if (!(activation > 0)) continue;
      const feature = latents.indices[i]!;
      const label = catalog.get(feature)?.label;
      out.push({ feature, activation, ...(label ? { label } : {}) });
    }
    return out.sort((a, b) => b.activation - a.activation);
  }

  private async queryNorm(
    config: SteerConfig,
    texts: ReadonlyArray<{ text: string; weight: number }>,
  ): Promise<number> {
    // NOTE: imported lazily like the catalog, so that the server starts without loading onnxruntime.
    const [{ latentNorm }, vector, sae] = await Promise.all([
      import('@steer/sae'),
      this.queryVector(config, texts),
      this.sae(config),
    ]);
    return latentNorm(await sae.encode(vector, 1));
  }

  private async crossover(
    config: SteerConfig,
    catalog: Catalog,
    texts: ReadonlyArray<{ text: string; weight: number }>,
    direction: ReadonlyArray<{ feature: number; weight: number }>,
  ): Promise<number | undefined> {
    return catalog.crossoverStrength(await this.queryVector(config, texts), direction);
  }

  /**
   * The embedding of a query's weighted texts. The last query's is kept: hover and inlay hints ask for its norm and
   * then for the crossover of each amplifying edit of the same query, which would otherwise embed it each time.
   */
  private queryVector(
    config: SteerConfig,
    texts: ReadonlyArray<{ text: string; weight: number }>,
  ): Promise<Float32Array> {
    const key = JSON.stringify(texts.map((t) => [t.text, t.weight]));
    if (this.lastQuery?.key !== key) {
      const vector = Promise.all([import('@steer/engine'), this.embedder(config)]).then(
        ([{ embedQueryTexts }, embedder]) => embedQueryTexts(embedder, texts),
      );
      // A failed embedding is not kept: the next request tries again.
      vector.catch(() => {
        if (this.lastQuery?.vector === vector) this.lastQuery = undefined;
      });
      this.lastQuery = { key, vector };
    }
    return this.lastQuery.vector;
  }

  engine(): Promise<SteerEngine> {
    this.enginePromise ??= (async () => {
      const config = await this.config();
      const { openEngine } = await import('@steer/engine');
      const [embedder, catalog, sae] = await Promise.all([
        this.embedder(config),
        this.catalog(config),
        config.sae ? this.sae(config) : Promise.resolve(undefined),
      ]);
      return openEngine(config, { embedder, ...(sae ? { sae } : {}), ...(catalog ? { catalog } : {}) });
    })().catch((cause: unknown) => {
      const failure = explainLoadFailure(cause);
      throw failure.runtime
        ? new Error(`steer: ${failure.cause}; ${runtimeFix(failure.runtime)}`, { cause })
        : cause;
    });
    this.enginePromise.catch(() => (this.enginePromise = undefined));
    return this.enginePromise;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const settle = <T>(p: Promise<T> | undefined) =>
      p?.then(
        (v) => v,
        () => undefined,
      );
    const engine = await settle(this.enginePromise);
    if (engine) {
      await engine.close().catch(() => undefined); // closes the SAE and the embedder too
    } else {
      await (await settle(this.saePromise))?.dispose().catch(() => undefined);
      await (await settle(this.embedderPromise))?.dispose().catch(() => undefined);
    }
    await (await settle(this.catalogPromise))?.dispose().catch(() => undefined);
  }
}

/** The projects of the open documents, keyed by their config file. */
export class SteerWorkspace {
  private readonly projects = new Map<string, ConfiguredProject>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (message: string) => void;
  private findConfig: ((dir: string) => string | undefined) | undefined;

  constructor(private readonly options: WorkspaceOptions = {}) {
    this.env = options.env ?? process.env;
    this.log = options.log ?? (() => undefined);
  }

  /** The project of a document (by its URI), loading `findConfigFile` on first use. */
  async projectFor(uri: string): Promise<Project> {
    return this.projectOfDir(documentDir(uri));
  }

  /**
   * Starts loading the project of a workspace folder (its catalog, then the embedder in the background) before
   * any document asks, when a steer.config.json is found at or above it. Never rejects.
   */
  async preload(folder: string): Promise<void> {
    try {
      this.findConfig ??= (await import('@steer/engine/config')).findConfigFile;
      if (!this.findConfig(folder)) return;
      await (await this.projectOfDir(folder)).context();
    } catch (cause) {
      this.log(`preloading ${folder}: ${messageOf(cause)}`);
    }
  }

  private async projectOfDir(dir: string): Promise<Project> {
    this.findConfig ??= (await import('@steer/engine/config')).findConfigFile;
    const configFile = this.findConfig(dir);
    const key = configFile ?? `env:${dir}`;
    let project = this.projects.get(key);
    if (!project) {
      project = new ConfiguredProject(key, configFile, configFile ? dirname(configFile) : dir, this.env, {
        ...this.options,
        log: this.log,
      });
      this.projects.set(key, project);
      if (configFile) this.watchConfig(configFile);
    }
    return project;
  }

  /** The provider context of a document; without a usable engine package, a context naming the problem. */
  async contextFor(uri: string): Promise<DocumentContext> {
    try {
      return await (await this.projectFor(uri)).context();
    } catch (cause) {
      const failure = explainLoadFailure(cause);
      const message = `steer: this language server cannot load its configuration reader (${failure.cause}); ${runtimeFix(failure.runtime ?? '@steer/engine')}`;
      return {
        problems: [problem(ServerDiagnosticCode.CatalogUnavailable, message, 'error')],
        featuresUnavailable: message,
      };
    }
  }

  private watchConfig(configFile: string): void {
    if (this.options.watchFiles === false || this.watchers.has(configFile)) return;
    try {
      // NOTE: watch the folder, not the file: editors save by renaming a temporary file over it.
      let timer: NodeJS.Timeout | undefined;
      const watcher = watch(dirname(configFile), { persistent: false }, (_event, name) => {
        if (name !== null && String(name) !== basename(configFile)) return;
        clearTimeout(timer); // one reload per save, which fires several events
        timer = setTimeout(() => this.configChanged(configFile), 50);
        timer.unref();
      });
      watcher.on('error', () => watcher.close());
      this.watchers.set(configFile, watcher);
    } catch (cause) {
      this.log(`cannot watch ${configFile}: ${messageOf(cause)}`);
    }
  }

  /**
   * Drops every project after a steer.config.json changed, was created or deleted (a new file may change which
   * config a document finds), then notifies `onConfigChanged`. Projects reload lazily on the next request.
   */
  configChanged(configFile: string): void {
    for (const project of this.projects.values()) void project.dispose();
    this.projects.clear();
    this.log(`reloading the configuration after a change to ${configFile}`);
    this.options.onConfigChanged?.(configFile);
  }

  async dispose(): Promise<void> {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await Promise.all([...this.projects.values()].map((p) => p.dispose()));
    this.projects.clear();
  }
}
