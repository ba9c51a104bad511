// Our small tensor type and its conversion to and from onnxruntime's tensors.
import ort from 'onnxruntime-node';
import { OnnxError } from './errors.js';

/** Element types our tensors carry. */
export type TensorType = 'float32' | 'int32' | 'int64' | 'int8' | 'bool';

/** A typed array with a shape; `bool` tensors hold one byte (0 or 1) per element in a Uint8Array. */
export interface Tensor {
  type: TensorType;
  data: Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;
  dims: readonly number[];
}

const ARRAY_OF_TYPE = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int8: Int8Array,
  bool: Uint8Array,
} as const;

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) count *= dim;
  return count;
}

/**
 * Checks that a tensor's data type and length match its declared type and shape.
 * @throws OnnxError `invalid_input` naming the tensor and the mismatch.
 */
export function validateTensor(name: string, tensor: Tensor): void {
  const expected = ARRAY_OF_TYPE[tensor.type];
  if (expected === undefined) {
    throw new OnnxError(
      'invalid_input',
      `onnx: input "${name}" has type "${String(tensor.type)}"; use one of float32, int32, int64, int8, bool`,
    );
  }
  if (!(tensor.data instanceof expected)) {
    throw new OnnxError(
      'invalid_input',
      `onnx: input "${name}" is declared ${tensor.type} but its data is a ${tensor.data.constructor.name}; pass a ${expected.name}`,
    );
  }
  for (const dim of tensor.dims) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new OnnxError(
        'invalid_input',
        `onnx: input "${name}" has shape [${tensor.dims.join(', ')}]; dimensions must be non-negative integers`,
      );
    }
  }
  const count = elementCount(tensor.dims);
  if (tensor.data.length !== count) {
    throw new OnnxError(
      'invalid_input',
      `onnx: input "${name}" has shape [${tensor.dims.join(', ')}] (${count} elements) but ${tensor.data.length} values; make the data length match the shape`,
    );
  }
}

/** Converts our tensor to an onnxruntime tensor without copying numeric data. */
export function toOrtTensor(name: string, tensor: Tensor): ort.Tensor {
  validateTensor(name, tensor);
  if (tensor.type === 'bool') {
    return new ort.Tensor('bool', tensor.data as Uint8Array, tensor.dims);
  }
  if (tensor.type === 'int8') return new ort.Tensor('int8', tensor.data as Int8Array, tensor.dims);
  return new ort.Tensor(tensor.type, tensor.data as Float32Array | Int32Array | BigInt64Array, tensor.dims);
}

/**
 * Converts an onnxruntime output tensor to ours (data is not copied).
 * @throws OnnxError `run_failed` for element types we do not expose.
 */
export function fromOrtTensor(name: string, value: ort.Tensor): Tensor {
  const dims = [...value.dims];
  switch (value.type) {
    case 'float32':
      return { type: 'float32', data: value.data as Float32Array, dims };
    case 'int32':
      return { type: 'int32', data: value.data as Int32Array, dims };
    case 'int64':
      return { type: 'int64', data: value.data as BigInt64Array, dims };
    case 'int8':
      return { type: 'int8', data: value.data as Int8Array, dims };
    case 'bool':
      return { type: 'bool', data: value.data as Uint8Array, dims };
    default:
      throw new OnnxError(
        'run_failed',
        `onnx: output "${name}" has element type ${value.type}, which @steer/onnx does not expose; cast it to float32, int32, int64, int8 or bool in the graph`,
      );
  }
}
