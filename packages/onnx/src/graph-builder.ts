// Builds serialized ONNX models (ModelProto) in memory from a small graph description, for generated
// runtime graphs (the SAE encoder) and for tests that need tiny models.
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { OnnxError } from './errors.js';
import { elementCount, type TensorType } from './tensor.js';

const { onnx } = onnxProto;

/** A graph input or output: name, element type and shape (numbers are fixed sizes, strings are symbolic dims). */
export interface ValueInfo {
  name: string;
  type: TensorType;
  shape: Array<number | string>;
}

/**
 * A constant tensor of the graph: either inline `data`, or `external` data stored in another file
 * (ONNX external data; `location` is relative to the folder of the `.onnx` file, `offset`/`length` in bytes).
 */
export interface Initializer {
  name: string;
  type: TensorType;
  dims: number[];
  data?: Float32Array | Int32Array | BigInt64Array | Int8Array;
  external?: { location: string; offset: number; length: number };
}

/**
 * Attribute values. A plain number is an INT attribute when it is an integer, except for the attributes
 * that ONNX defines as floats (alpha, beta, epsilon, ...), and a FLOAT otherwise; `{ float }`, `{ floats }`
 * and `{ ints }` force the type.
 */
export type AttributeValue =
  | number
  | number[]
  | string
  | { float: number }
  | { floats: number[] }
  | { ints: number[] }
  | { tensor: Initializer };

/** One operator of the graph. */
export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A whole graph; `opset` of the default domain defaults to 17. */
export interface GraphSpec {
  name?: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers?: Initializer[];
  opset?: number;
}

const ELEMENT_TYPE: Record<TensorType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  int8: onnx.TensorProto.DataType.INT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

const BYTES_PER_ELEMENT: Record<TensorType, number> = { float32: 4, int32: 4, int64: 8, int8: 1, bool: 1 };

/** Attributes that ONNX types as FLOAT even when their value is a whole number. */
const FLOAT_ATTRIBUTES = new Set([
  'alpha',
  'beta',
  'gamma',
  'epsilon',
  'lambd',
  'bias',
  'ratio',
  'momentum',
  'spatial_scale',
  'scale',
  'value_float',
]);

const DEFAULT_OPSET = 17;
// NOTE: onnx-proto 8 ships the ONNX 1.10 schema, whose newest IR version is 8; onnxruntime accepts
// IR 8 models with newer default-domain opsets.
const IR_VERSION = 8;

function invalid(message: string): OnnxError {
  return new OnnxError('invalid_graph', `onnx: ${message}`);
}

function valueInfo(info: ValueInfo, role: string): OnnxTypes.IValueInfoProto {
  if (!info.name) throw invalid(`a graph ${role} has no name; give every ${role} a name`);
  if (ELEMENT_TYPE[info.type] === undefined) {
    throw invalid(
      `${role} "${info.name}" has type "${String(info.type)}"; use float32, int32, int64, int8 or bool`,
    );
  }
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[info.type],
        shape: {
          dim: info.shape.map((dim) => {
            if (typeof dim === 'string') return { dimParam: dim };
            if (!Number.isInteger(dim) || dim < 0) {
              throw invalid(
                `${role} "${info.name}" has dimension ${dim}; use a non-negative integer or a name`,
              );
            }
            return { dimValue: dim };
          }),
        },
      },
    },
  };
}

function tensorProto(init: Initializer): OnnxTypes.ITensorProto {
  if (!init.name) throw invalid('an initializer has no name; give every initializer a name');
  const elemType = ELEMENT_TYPE[init.type];
  if (elemType === undefined) {
    throw invalid(
      `initializer "${init.name}" has type "${String(init.type)}"; use float32, int32, int64, int8 or bool`,
    );
  }
  for (const dim of init.dims) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw invalid(`initializer "${init.name}" has dimension ${dim}; dims must be non-negative integers`);
    }
  }
  const byteLength = elementCount(init.dims) * BYTES_PER_ELEMENT[init.type];
  const proto: OnnxTypes.ITensorProto = { name: init.name, dataType: elemType, dims: init.dims };
  if (init.data !== undefined && init.external !== undefined) {
    throw invalid(`initializer "${init.name}" has both data and external; give exactly one`);
  }
  if (init.data !== undefined) {
    if (init.data.byteLength !== byteLength) {
      throw invalid(
        `initializer "${init.name}" has dims [${init.dims.join(', ')}] (${byteLength} bytes) but ${init.data.byteLength} bytes of data; make them agree`,
      );
    }
    // NOTE: ONNX raw_data is little-endian, like every platform onnxruntime-node ships for.
    proto.rawData = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
  } else if (init.external !== undefined) {
    const { location, offset, length } = init.external;
    if (!location)
      throw invalid(`initializer "${init.name}" has an empty external location; name the data file`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw invalid(
        `initializer "${init.name}" has external offset ${offset} / length ${length}; use byte counts >= 0`,
      );
    }
    if (length !== byteLength) {
      throw invalid(
        `initializer "${init.name}" has dims [${init.dims.join(', ')}] (${byteLength} bytes) but external length ${length}; make them agree`,
      );
    }
    proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    proto.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ];
  } else {
    throw invalid(`initializer "${init.name}" has neither data nor external; give one of them`);
  }
  return proto;
}

function attribute(name: string, value: AttributeValue, op: string): OnnxTypes.IAttributeProto {
  const Type = onnx.AttributeProto.AttributeType;
  const bad = (): OnnxError =>
    invalid(`attribute "${name}" of ${op} has an unsupported value ${JSON.stringify(value)}`);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { name, type: Type.FLOAT, f: value };
    if (Number.isInteger(value) && !FLOAT_ATTRIBUTES.has(name)) return { name, type: Type.INT, i: value };
    return { name, type: Type.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: Type.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    return value.every((item) => Number.isInteger(item))
      ? { name, type: Type.INTS, ints: value }
      : { name, type: Type.FLOATS, floats: value };
  }
  if (typeof value === 'object' && value !== null) {
    if ('float' in value) return { name, type: Type.FLOAT, f: value.float };
    if ('floats' in value) return { name, type: Type.FLOATS, floats: value.floats };
    if ('ints' in value) {
      if (!value.ints.every((item) => Number.isInteger(item))) throw bad();
      return { name, type: Type.INTS, ints: value.ints };
    }
    if ('tensor' in value) return { name, type: Type.TENSOR, t: tensorProto(value.tensor) };
  }
  throw bad();
}

/**
 * Serializes a graph description to an ONNX ModelProto (IR version 8).
 * Checks that every node input is a graph input, an initializer or an earlier node's output, and that
 * every graph output is produced.
 * @throws OnnxError `invalid_graph` naming the node or tensor at fault.
 */
export function buildModel(spec: GraphSpec): Uint8Array {
  const opset = spec.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < 1) throw invalid(`opset ${opset} is not a positive integer`);
  const known = new Set<string>();
  const inputs = spec.inputs.map((info) => {
    known.add(info.name);
    return valueInfo(info, 'input');
  });
  const initializers = (spec.initializers ?? []).map((init) => {
    known.add(init.name);
    return tensorProto(init);
  });
  const domains = new Set<string>();
  const nodes = spec.nodes.map((node, index) => {
    const label = node.name ?? `node ${index} (${node.op})`;
    if (!node.op) throw invalid(`${label} has no op; name the operator, e.g. "Gemm"`);
    for (const input of node.inputs) {
      if (input !== '' && !known.has(input)) {
        throw invalid(
          `${label} reads "${input}", which is no graph input, initializer or earlier output; define it before this node`,
        );
      }
    }
    for (const output of node.outputs) known.add(output);
    if (node.domain) domains.add(node.domain);
    return {
      opType: node.op,
      input: node.inputs,
      output: node.outputs,
      name: node.name ?? `${node.op}_${index}`,
      domain: node.domain ?? '',
      attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value, label)),
    };
  });
  const outputs = spec.outputs.map((info) => {
    if (!known.has(info.name)) {
      throw invalid(`graph output "${info.name}" is not produced by any node; add the node or fix the name`);
    }
    return valueInfo(info, 'output');
  });
  const opsetImport = [
    { domain: '', version: opset },
    ...[...domains].map((domain) => ({ domain, version: 1 })),
  ];
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'steer',
    opsetImport,
    graph: {
      name: spec.name ?? 'graph',
      node: nodes,
      input: inputs,
      output: outputs,
      initializer: initializers,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
