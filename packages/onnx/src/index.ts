// @steer/onnx: the one module that imports onnxruntime-node; sessions over our own tensor type and an
// in-memory ONNX graph builder.
export { OnnxError, type OnnxErrorCode } from './errors.js';
export { type Tensor, type TensorType, elementCount } from './tensor.js';
export {
  createSession,
  availableProviders,
  type ExecutionProvider,
  type Session,
  type SessionOptions,
} from './session.js';
export {
  buildModel,
  type AttributeValue,
  type GraphSpec,
  type Initializer,
  type NodeSpec,
  type ValueInfo,
} from './graph-builder.js';
export { formatMachine, machineInfo, parseCpuinfo, type MachineInfo } from './machine.js';
