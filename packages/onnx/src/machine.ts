// The machine a computation ran on, as far as it can change float results: the CPU and the instruction sets
// onnxruntime's CPU kernels choose between, the core count, the platform, Node and onnxruntime-node. Recorded
// beside trained SAEs and results so that two runs that differ can be told apart by machine.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, platform } from 'node:os';

/** The machine a run used (see {@link machineInfo}). */
export interface MachineInfo {
  /** CPU model name, e.g. `AMD EPYC 9B14`; `unknown` where the OS does not say. */
  cpu: string;
  /**
   * The vector instruction sets that select onnxruntime's CPU kernels, as Linux names them (x86: `amx_tile`,
   * `avx512_bf16`, `avx512_vnni`, `avx512bw`, `avx512f`, `avx_vnni`, `avx2`, `fma`, `avx`, `sse4_1`; Arm: `sve`,
   * `asimddp`, `asimd`), widest first; empty where /proc/cpuinfo is unreadable.
   */
  isa: string[];
  cores: number;
  platform: string;
  arch: string;
  node: string;
  onnxruntime: string;
}

/** The instruction sets that onnxruntime's kernel dispatch looks at, widest first. */
const DISPATCH_ISA = [
  'amx_tile',
  'avx512_bf16',
  'avx512_vnni',
  'avx512bw',
  'avx512f',
  'avx_vnni',
  'avx2',
  'fma',
  'avx',
  'sse4_1',
  'sve',
  'asimddp',
  'asimd',
];

/**
 * The CPU model and dispatch-relevant instruction sets in the text of Linux's /proc/cpuinfo (the first
 * processor's `model name` and `flags`, or on Arm `Features`).
 */
export function parseCpuinfo(text: string): { cpu?: string; isa: string[] } {
  const field = (name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const flags = new Set((field('flags') ?? field('Features') ?? '').split(/\s+/).filter(Boolean));
  const cpu = field('model name');
  return { ...(cpu ? { cpu } : {}), isa: DISPATCH_ISA.filter((f) => flags.has(f)) };
}

let cached: MachineInfo | undefined;

/** This machine (computed once per process). */
export function machineInfo(): MachineInfo {
  if (cached !== undefined) return cached;
  let parsed: { cpu?: string; isa: string[] } = { isa: [] };
  try {
    parsed = parseCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    // not Linux: the model name from Node below, no instruction sets
  }
  const require = createRequire(import.meta.url);
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  const cores = cpus();
  cached = {
    cpu: parsed.cpu ?? cores[0]?.model.trim() ?? 'unknown',
    isa: parsed.isa,
    cores: cores.length,
    platform: platform(),
    arch: arch(),
    node: process.versions.node,
    onnxruntime: ortVersion,
  };
  return cached;
}

/**
 * One line for reports, e.g. `AMD EPYC (avx512_vnni avx512bw avx512f avx2 fma avx sse4_1), 2 cores, linux x64,
 * Node 20.20.2, onnxruntime-node 1.30.0`.
 */
export function formatMachine(m: MachineInfo): string {
  const isa = m.isa.length > 0 ? ` (${m.isa.join(' ')})` : '';
  return `${m.cpu}${isa}, ${m.cores} core${m.cores === 1 ? '' : 's'}, ${m.platform} ${m.arch}, Node ${m.node}, onnxruntime-node ${m.onnxruntime}`;
}
