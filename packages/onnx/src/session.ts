// Inference sessions over onnxruntime-node: provider choice (cpu / webgpu), typed feeds and outputs.
import { access } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { OnnxError } from './errors.js';
import { buildModel } from './graph-builder.js';
import { fromOrtTensor, toOrtTensor, type Tensor } from './tensor.js';

/** Execution providers we support: the CPU and onnxruntime's bundled WebGPU (Dawn) provider. */
export type ExecutionProvider = 'cpu' | 'webgpu';

/** Options of {@link createSession}. */
export interface SessionOptions {
  /** `cpu` (default), `webgpu` (throws `provider_unavailable` without an adapter) or `auto` (webgpu when found, else cpu). */
  provider?: ExecutionProvider | 'auto';
  /** Threads for one operator on the CPU; onnxruntime's default (all cores) when absent. */
  intraOpThreads?: number;
  /**
   * Skip onnxruntime's pre-packing of constant weights (saves a second copy of large Gemm/MatMul
   * weights at some speed cost); default false.
   */
  disablePrepacking?: boolean;
  /**
   * Let the intra-op threads spin-wait for work after a run (onnxruntime's default, true): lowest latency for
   * back-to-back runs, but the spinning threads take CPU from other work of the process (JS worker threads)
   * between runs.
   */
  allowSpinning?: boolean;
}

/** A loaded model: named inputs/outputs, `run` with our tensors, `dispose` to free native memory. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly provider: ExecutionProvider;
  run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

let webgpuProbe: Promise<string | undefined> | undefined;

/** Tries to start the WebGPU provider on a one-node model; resolves to the failure message, or undefined when it works. */
function probeWebgpu(): Promise<string | undefined> {
  webgpuProbe ??= (async () => {
    if (!ort.listSupportedBackends().some((backend) => backend.name === 'webgpu')) {
      return 'this onnxruntime-node build has no WebGPU provider';
    }
    const model = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: [1] }],
      outputs: [{ name: 'y', type: 'float32', shape: [1] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
      await session.release();
      return undefined;
    } catch (error) {
      return firstLine(error);
    }
  })();
  return webgpuProbe;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const match = /Failed to get a WebGPU adapter[^\n]*/.exec(text);
  return (match ? match[0] : (text.split('\n')[0] ?? text)).trim();
}

/**
 * Lists the execution providers that really work on this machine: always `cpu`, plus `webgpu` when
 * onnxruntime finds a WebGPU adapter (probed once per process with a one-node model).
 */
export async function availableProviders(): Promise<ExecutionProvider[]> {
  return (await probeWebgpu()) === undefined ? ['cpu', 'webgpu'] : ['cpu'];
}

async function resolveProvider(requested: ExecutionProvider | 'auto'): Promise<ExecutionProvider> {
  if (requested === 'cpu') return 'cpu';
  if (requested !== 'webgpu' && requested !== 'auto') {
    throw new OnnxError(
      'provider_unavailable',
      `onnx: unknown execution provider "${String(requested)}"; use "cpu", "webgpu" or "auto"`,
    );
  }
  const failure = await probeWebgpu();
  if (failure === undefined) return 'webgpu';
  if (requested === 'auto') return 'cpu';
  throw new OnnxError(
    'provider_unavailable',
    `onnx: the webgpu execution provider is unavailable (${failure}); install a GPU driver with Vulkan support, or use provider "cpu" or "auto"`,
  );
}

/**
 * Loads an ONNX model (a path to an `.onnx` file, whose external data is resolved relative to its
 * folder, or the serialized bytes) into an inference session.
 * @throws OnnxError `model_not_found`, `invalid_model` or `provider_unavailable`.
 */
export async function createSession(
  model: string | Uint8Array,
  options: SessionOptions = {},
): Promise<Session> {
  const provider = await resolveProvider(options.provider ?? 'cpu');
  if (typeof model === 'string') {
    try {
      await access(model);
    } catch {
      throw new OnnxError(
        'model_not_found',
        `onnx: model file ${model} does not exist; check the path or rebuild the model`,
      );
    }
  } else if (!(model instanceof Uint8Array) || model.byteLength === 0) {
    throw new OnnxError(
      'invalid_model',
      'onnx: the model bytes are empty; pass a serialized ONNX ModelProto',
    );
  }
  if (
    options.intraOpThreads !== undefined &&
    (!Number.isInteger(options.intraOpThreads) || options.intraOpThreads < 0)
  ) {
    throw new OnnxError(
      'invalid_input',
      `onnx: intraOpThreads is ${options.intraOpThreads}; use a non-negative integer (0 = onnxruntime's default)`,
    );
  }
  const ortOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
  };
  if (options.intraOpThreads !== undefined) ortOptions.intraOpNumThreads = options.intraOpThreads;
  const sessionConfig: Record<string, unknown> = {};
  if (options.disablePrepacking) sessionConfig.disable_prepacking = '1';
  if (options.allowSpinning === false) sessionConfig.intra_op = { allow_spinning: '0' };
  if (Object.keys(sessionConfig).length > 0) ortOptions.extra = { session: sessionConfig };
  let session: ort.InferenceSession;
  try {
    session =
      typeof model === 'string'
        ? await ort.InferenceSession.create(model, ortOptions)
        : await ort.InferenceSession.create(model, ortOptions);
  } catch (error) {
    const where = typeof model === 'string' ? model : `${model.byteLength}-byte model`;
    throw new OnnxError(
      'invalid_model',
      `onnx: cannot load ${where}: ${firstLine(error)}; check that it is a valid ONNX model whose external data files sit beside it`,
      { cause: error },
    );
  }
  return new OrtSession(session, provider);
}

class OrtSession implements Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  #session: ort.InferenceSession | undefined;

  constructor(
    session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
  ) {
    this.#session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
  }

  async run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Record<string, Tensor>> {
    const session = this.#session;
    if (session === undefined) {
      throw new OnnxError('session_disposed', 'onnx: run() called after dispose(); create a new session');
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const tensor = feeds[name];
      if (tensor === undefined) {
        throw new OnnxError(
          'invalid_input',
          `onnx: input "${name}" is missing; the model expects inputs ${this.inputNames.join(', ')}`,
        );
      }
      ortFeeds[name] = toOrtTensor(name, tensor);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) {
        throw new OnnxError(
          'invalid_input',
          `onnx: "${name}" is not an input of this model; its inputs are ${this.inputNames.join(', ')}`,
        );
      }
    }
    const wanted = outputNames ?? this.outputNames;
    for (const name of wanted) {
      if (!this.outputNames.includes(name)) {
        throw new OnnxError(
          'invalid_input',
          `onnx: "${name}" is not an output of this model; its outputs are ${this.outputNames.join(', ')}`,
        );
      }
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds, [...wanted]);
    } catch (error) {
      throw new OnnxError(
        'run_failed',
        `onnx: run failed: ${firstLine(error)}; check the input shapes and types`,
        {
          cause: error,
        },
      );
    }
    const outputs: Record<string, Tensor> = {};
    for (const name of wanted) {
      const value = results[name];
      if (value === undefined) throw new OnnxError('run_failed', `onnx: output "${name}" was not produced`);
      outputs[name] = fromOrtTensor(name, value);
    }
    return outputs;
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session !== undefined) await session.release();
  }
}
