// The onnx core's innermost loops as WebAssembly SIMD (f32x4), about three times faster than the same loops in
// JavaScript, which has no SIMD. The module is assembled here from its instructions (no toolchain, nothing
// generated on disk) and runs on a shared WebAssembly.Memory, so every thread of the core uses the same arrays.
//
// Kernels (byte offsets into the memory, `count` float32 values; a scalar loop finishes what is not a multiple of 4):
//   adam(p, m, v, g, count, b1, b2, c1, c2, eps, step) -> sum of squares of the new p
//       m = b1 m + c1 g;  v = b2 v + c2 g^2;  p -= step * m / (sqrt(v) + eps)         (g = 0 when the offset is -1)
//   axpy(y, x, a, count):  y += a x
//   dot(x, y, count) -> sum x y

// NOTE: TypeScript types WebAssembly only in its DOM library, which this project does not load; these are the few
// parts used here (the global itself is Node's).
export interface KernelMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface KernelModule {
  readonly kind: 'wasm-module';
}
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => KernelMemory;
  Module: new (bytes: Uint8Array) => KernelModule;
  Instance: new (module: KernelModule, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
};

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function leb(value: number): number[] {
  const out: number[] = [];
  let n = value >>> 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let n = value | 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const vector = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const name = (text: string): number[] => [...leb(text.length), ...new TextEncoder().encode(text)];
const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];

// Instructions.
const get = (i: number): number[] => [0x20, ...leb(i)];
const set = (i: number): number[] => [0x21, ...leb(i)];
const i32 = (v: number): number[] => [0x41, ...sleb(v)];
const simd = (op: number, ...immediates: number[]): number[] => [0xfd, ...leb(op), ...immediates];
const op = {
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32And: [0x71],
  i32LtS: [0x48],
  i32Eqz: [0x45],
  f32Load: [0x2a, 0x02, 0x00],
  f32Store: [0x38, 0x02, 0x00],
  f32Add: [0x92],
  f32Sub: [0x93],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Sqrt: [0x91],
  f32Const0: [0x43, 0, 0, 0, 0],
  v128Load: simd(0, 0x04, 0x00),
  v128Store: simd(11, 0x04, 0x00),
  splat: simd(19),
  lane: (i: number) => simd(31, i),
  add: simd(228),
  sub: simd(229),
  mul: simd(230),
  div: simd(231),
  sqrt: simd(227),
};

/** `for (i = 0; i < limit; i += step) body` with i in local `index` (bytes), limit in local `limit`. */
function loop(index: number, limit: number, step: number, body: number[]): number[] {
  // prettier-ignore
  return [
    0x02, 0x40, 0x03, 0x40, // block, loop
    ...get(index), ...get(limit), ...op.i32LtS, ...op.i32Eqz, 0x0d, 0x01, // exit when !(i < limit)
    ...body,
    ...get(index), ...i32(step), ...op.i32Add, ...set(index),
    0x0c, 0x00, 0x0b, 0x0b, // continue; end loop, end block
  ];
}

/** Address p + i: local `base` plus local `index`. */
const at = (base: number, index: number): number[] => [...get(base), ...get(index), ...op.i32Add];

/** Sum of the four lanes of local `acc`. */
// prettier-ignore
const lanes = (acc: number): number[] => [
  ...get(acc), ...op.lane(0), ...get(acc), ...op.lane(1), ...op.f32Add,
  ...get(acc), ...op.lane(2), ...op.f32Add, ...get(acc), ...op.lane(3), ...op.f32Add,
];

/** The instructions of one width: four lanes (v128) or one float32. */
interface Lanes {
  load: number[];
  store: number[];
  add: number[];
  sub: number[];
  mul: number[];
  div: number[];
  sqrt: number[];
}
const VECTOR: Lanes = {
  load: op.v128Load,
  store: op.v128Store,
  add: op.add,
  sub: op.sub,
  mul: op.mul,
  div: op.div,
  sqrt: op.sqrt,
};
const SCALAR: Lanes = {
  load: op.f32Load,
  store: op.f32Store,
  add: op.f32Add,
  sub: op.f32Sub,
  mul: op.f32Mul,
  div: op.f32Div,
  sqrt: op.f32Sqrt,
};
const tee = (i: number): number[] => [0x22, ...leb(i)];

/**
 * One Adam update at byte offset local `i` of the arrays whose bases are params 0 (p), 1 (m), 2 (v), 3 (g), with the
 * constants and temporaries in the given locals: m = b1 m + c1 g; v = b2 v + c2 g^2;
 * p -= step * m / (sqrt(v) + eps); sq += p^2.
 */
function adamUpdate(
  L: Lanes,
  i: number,
  x: { b1: number; b2: number; c1: number; c2: number; eps: number; step: number },
  t: { g: number; m: number; v: number; p: number; sq: number },
  withGradient: boolean,
): number[] {
  // prettier-ignore
  return [
    ...(withGradient ? [...at(3, i), ...L.load, ...set(t.g)] : []),
    ...at(1, i), ...at(1, i), ...L.load, ...get(x.b1), ...L.mul,
    ...(withGradient ? [...get(t.g), ...get(x.c1), ...L.mul, ...L.add] : []),
    ...tee(t.m), ...L.store,
    ...at(2, i), ...at(2, i), ...L.load, ...get(x.b2), ...L.mul,
    ...(withGradient ? [...get(t.g), ...get(t.g), ...L.mul, ...get(x.c2), ...L.mul, ...L.add] : []),
    ...tee(t.v), ...L.store,
    ...at(0, i), ...at(0, i), ...L.load,
    ...get(t.m), ...get(t.v), ...L.sqrt, ...get(x.eps), ...L.add, ...L.div, ...get(x.step), ...L.mul, ...L.sub,
    ...tee(t.p), ...L.store,
    ...get(t.sq), ...get(t.p), ...get(t.p), ...L.mul, ...L.add, ...set(t.sq),
  ];
}

// adam: params p0 m1 v2 g3 count4 b1:5 b2:6 c1:7 c2:8 eps:9 step:10; locals i32: bytes 11, whole vectors 12, i 13;
// v128: splatted b1..step 14-19, g 20, m 21, v 22, sum of squares 23; f32: g 24, m 25, v 26, sum 27, p 28.
function adamBody(withGradient: boolean): number[] {
  const splat = (param: number, local: number): number[] => [...get(param), ...op.splat, ...set(local)];
  // prettier-ignore
  return [
    ...vector([[3, I32], [10, V128], [5, F32]]),
    ...splat(5, 14), ...splat(6, 15), ...splat(7, 16), ...splat(8, 17), ...splat(9, 18), ...splat(10, 19),
    ...get(4), ...i32(2), 0x74, ...set(11), // bytes = count << 2
    ...get(11), ...i32(~15), ...op.i32And, ...set(12), // bytes in whole vectors
    ...loop(13, 12, 16, adamUpdate(VECTOR, 13, { b1: 14, b2: 15, c1: 16, c2: 17, eps: 18, step: 19 }, { g: 20, m: 21, v: 22, p: 20, sq: 23 }, withGradient)),
    ...loop(13, 11, 4, adamUpdate(SCALAR, 13, { b1: 5, b2: 6, c1: 7, c2: 8, eps: 9, step: 10 }, { g: 24, m: 25, v: 26, p: 28, sq: 27 }, withGradient)),
    ...lanes(23), ...get(27), ...op.f32Add,
    0x0b,
  ];
}

// axpy: params y0 x1 a2 count3; locals i32: bytes 4, whole vectors 5, i 6; v128: splatted a 7
// prettier-ignore
const axpyBody = [
  ...vector([[3, I32], [1, V128]]),
  ...get(2), ...op.splat, ...set(7),
  ...get(3), ...i32(2), 0x74, ...set(4),
  ...get(4), ...i32(~15), ...op.i32And, ...set(5),
  ...loop(6, 5, 16, [...at(0, 6), ...at(0, 6), ...op.v128Load, ...at(1, 6), ...op.v128Load, ...get(7), ...op.mul, ...op.add, ...op.v128Store]),
  ...loop(6, 4, 4, [...at(0, 6), ...at(0, 6), ...op.f32Load, ...at(1, 6), ...op.f32Load, ...get(2), ...op.f32Mul, ...op.f32Add, ...op.f32Store]),
  0x0b,
];

// dot: params x0 y1 count2; locals i32: bytes 3, whole vectors 4, i 5; v128: lane sums 6; f32: tail sum 7
// prettier-ignore
const dotBody = [
  ...vector([[3, I32], [1, V128], [1, F32]]),
  ...get(2), ...i32(2), 0x74, ...set(3),
  ...get(3), ...i32(~15), ...op.i32And, ...set(4),
  ...loop(5, 4, 16, [...get(6), ...at(0, 5), ...op.v128Load, ...at(1, 5), ...op.v128Load, ...op.mul, ...op.add, ...set(6)]),
  ...loop(5, 3, 4, [...get(7), ...at(0, 5), ...op.f32Load, ...at(1, 5), ...op.f32Load, ...op.f32Mul, ...op.f32Add, ...set(7)]),
  ...lanes(6), ...get(7), ...op.f32Add,
  0x0b,
];

function moduleBytes(): Uint8Array {
  const types = [
    [
      0x60,
      ...vector([[I32], [I32], [I32], [I32], [I32], [F32], [F32], [F32], [F32], [F32], [F32]]),
      ...vector([[F32]]),
    ],
    [0x60, ...vector([[I32], [I32], [F32], [I32]]), ...vector([])],
    [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[F32]])],
  ];
  const bodies = [adamBody(true), adamBody(false), axpyBody, dotBody];
  const magicAndVersion = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  return new Uint8Array([
    ...magicAndVersion,
    ...section(1, vector(types)),
    // The memory is imported shared with a maximum of 65536 pages (4 GiB): flags 0x03 = has maximum + shared.
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x03, ...leb(1), ...leb(65536)]])),
    ...section(3, vector([[0], [0], [1], [2]])),
    ...section(
      7,
      vector([
        [...name('adam'), 0x00, 0],
        [...name('adamDecay'), 0x00, 1],
        [...name('axpy'), 0x00, 2],
        [...name('dot'), 0x00, 3],
      ]),
    ),
    ...section(10, vector(bodies.map((body) => [...leb(body.length), ...body]))),
  ]);
}

/** adam/adamDecay(p, m, v, g, count, b1, b2, c1, c2, eps, step): byte offsets, count, constants; -> sum of p^2. */
type AdamKernel = (
  p: number,
  m: number,
  v: number,
  g: number,
  count: number,
  ...constants: number[]
) => number;

/** The kernels bound to one shared memory. */
export interface WasmKernels {
  memory: KernelMemory;
  adam: AdamKernel;
  adamDecay: AdamKernel;
  axpy(y: number, x: number, a: number, count: number): void;
  dot(x: number, y: number, count: number): number;
}

let compiled: KernelModule | undefined;

/** The compiled module (once per thread), or undefined where WebAssembly SIMD is not available. */
export function kernelModule(): KernelModule | undefined {
  if (compiled === undefined) {
    const bytes = moduleBytes();
    if (!WebAssembly.validate(bytes)) return undefined;
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/** Instantiates the kernels on `memory` (a shared WebAssembly.Memory). */
export function instantiateKernels(module: KernelModule, memory: KernelMemory): WasmKernels {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return { memory, ...(instance.exports as unknown as Omit<WasmKernels, 'memory'>) };
}

/** Bytes in a WebAssembly page. */
const PAGE = 65536;
/** Largest shared memory the kernels can address: 4 GiB (65,536 pages of 64 KiB). */
export const MAX_KERNEL_BYTES = 65536 * PAGE;

/** A shared memory of at least `bytes` for the kernels, which can grow to MAX_KERNEL_BYTES. */
export function kernelMemory(bytes: number): KernelMemory {
  return new WebAssembly.Memory({
    initial: Math.max(1, Math.ceil(bytes / PAGE)),
    maximum: 65536,
    shared: true,
  });
}

/** Grows `memory` so that it holds at least `bytes`. @returns false when that is beyond MAX_KERNEL_BYTES. */
export function growKernelMemory(memory: KernelMemory, bytes: number): boolean {
  const missing = Math.ceil((bytes - memory.buffer.byteLength) / PAGE);
  if (missing <= 0) return true;
  if (bytes > MAX_KERNEL_BYTES) return false;
  memory.grow(missing);
  return true;
}
