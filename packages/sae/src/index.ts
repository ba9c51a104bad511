// @steer/sae: the TopK sparse autoencoder artifact (safetensors + manifest) and its runtime.
// NOTE: everything that needs no ONNX runtime lives behind './files.js' (also `@steer/sae/files`).
export * from './files.js';
export { loadSae, type LoadSaeOptions, type SaeRuntime, type SteerOptions } from './runtime.js';
