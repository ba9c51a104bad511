// Generates the ONNX graph of the SAE encoder, h = TopK(ReLU-after)(W_enc (x - b_dec) + b_enc), whose
// weights are ONNX external data pointing into sae.safetensors, so they are never copied on disk.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@steer/core';
import { buildModel, type Initializer } from '@steer/onnx';
import { ENCODER_CACHE_PREFIX, WEIGHTS_FILE, type SaeManifest } from './artifact.js';
import type { SafetensorsHeader } from './safetensors.js';

/** Names of the encoder graph's input and outputs. */
export const ENCODER_INPUT = 'x';
export const ENCODER_VALUES = 'values';
export const ENCODER_INDICES = 'indices';

type EncoderWeights =
  | { kind: 'external'; header: SafetensorsHeader }
  | { kind: 'inline'; W_enc: Float32Array; b_enc: Float32Array; b_dec: Float32Array };

/**
 * Builds the encoder model: Sub(x, b_dec) -> Gemm(transB=1, W_enc [n,d], b_enc) -> TopK(k) -> Relu on
 * the values. Outputs `values` [batch,k] (float32, sorted descending) and `indices` [batch,k] (int64).
 */
export function buildEncoderModel(manifest: SaeManifest, weights: EncoderWeights): Uint8Array {
  const { dModel: d, nLatents: n, k } = manifest;
  const shapes: Record<'W_enc' | 'b_enc' | 'b_dec', number[]> = { W_enc: [n, d], b_enc: [n], b_dec: [d] };
  const initializers: Initializer[] = (['W_enc', 'b_enc', 'b_dec'] as const).map((name) => {
    if (weights.kind === 'inline') return { name, type: 'float32', dims: shapes[name], data: weights[name] };
    const entry = weights.header.tensors.get(name)!;
    const [begin, end] = entry.dataOffsets;
    return {
      name,
      type: 'float32',
      dims: shapes[name],
      external: { location: WEIGHTS_FILE, offset: weights.header.dataStart + begin, length: end - begin },
    };
  });
  initializers.push({ name: 'k', type: 'int64', dims: [1], data: new BigInt64Array([BigInt(k)]) });
  return buildModel({
    name: `sae_encoder_${manifest.id}`,
    inputs: [{ name: ENCODER_INPUT, type: 'float32', shape: ['batch', d] }],
    outputs: [
      { name: ENCODER_VALUES, type: 'float32', shape: ['batch', k] },
      { name: ENCODER_INDICES, type: 'int64', shape: ['batch', k] },
    ],
    initializers,
    nodes: [
      { op: 'Sub', inputs: [ENCODER_INPUT, 'b_dec'], outputs: ['centered'] },
      {
        op: 'Gemm',
        inputs: ['centered', 'W_enc', 'b_enc'],
        outputs: ['preactivations'],
        attributes: { transB: 1 },
      },
      {
        op: 'TopK',
        inputs: ['preactivations', 'k'],
        outputs: ['top_values', ENCODER_INDICES],
        attributes: { axis: -1, largest: 1, sorted: 1 },
      },
      { op: 'Relu', inputs: ['top_values'], outputs: [ENCODER_VALUES] },
    ],
  });
}

/**
 * Writes the external-data encoder model into the SAE folder (onnxruntime only resolves external data
 * inside the model's own folder, symlinks resolved) unless an identical file is already there.
 * @returns the model path, or undefined when the folder is not writable.
 */
export async function writeEncoderBeside(
  dir: string,
  manifest: SaeManifest,
  header: SafetensorsHeader,
): Promise<string | undefined> {
  const model = buildEncoderModel(manifest, { kind: 'external', header });
  const path = join(dir, `${ENCODER_CACHE_PREFIX}${manifest.id}-k${manifest.k}.onnx`);
  const current = await readFile(path).catch(() => undefined);
  if (current !== undefined && Buffer.compare(current, model) === 0) return path;
  return (await writeBeside(path, model)) ? path : undefined;
}

/**
 * Writes a generated file into the SAE folder through a temporary name and a rename, so that no reader sees it half
 * written. @returns false when the folder is not writable (nothing is left behind).
 */
export async function writeBeside(path: string, data: Uint8Array): Promise<boolean> {
  try {
    await writeFileAtomic(path, data);
    return true;
  } catch {
    return false;
  }
}
