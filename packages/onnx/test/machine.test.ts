// Tests of the machine record: the CPU and dispatch instruction sets read from /proc/cpuinfo text, and this
// machine's record as reports and SAE manifests store it.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { test } from 'node:test';
import { formatMachine, machineInfo, parseCpuinfo } from '../src/index.js';

const X86 = `processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 aes

processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse
`;

const ARM = `processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
`;

test('parseCpuinfo reads the first processor: its model and the instruction sets that choose kernels, widest first', () => {
  assert.deepEqual(parseCpuinfo(X86), {
    cpu: 'AMD EPYC 9B14',
    isa: ['avx512_bf16', 'avx512_vnni', 'avx512bw', 'avx512f', 'avx2', 'fma', 'avx', 'sse4_1'],
  });
  assert.deepEqual(parseCpuinfo(ARM), { isa: ['asimddp', 'asimd'] }, 'Arm names no model: Node supplies it');
  assert.deepEqual(parseCpuinfo(''), { isa: [] });
});

test('machineInfo describes this machine: cores, Node and the onnxruntime-node that is installed', () => {
  const m = machineInfo();
  const require = createRequire(import.meta.url);
  assert.equal(m.onnxruntime, (require('onnxruntime-node/package.json') as { version: string }).version);
  assert.equal(m.node, process.versions.node);
  assert.equal(m.cores, cpus().length);
  assert.ok(m.cpu.length > 0);
  assert.equal(machineInfo(), m, 'computed once');
  assert.equal(
    formatMachine({ ...m, cpu: 'Test CPU', isa: ['avx2', 'fma'], cores: 2, platform: 'linux', arch: 'x64' }),
    `Test CPU (avx2 fma), 2 cores, linux x64, Node ${m.node}, onnxruntime-node ${m.onnxruntime}`,
  );
  assert.equal(
    formatMachine({ ...m, cpu: 'Other', isa: [], cores: 1, platform: 'darwin', arch: 'arm64' }),
    `Other, 1 core, darwin arm64, Node ${m.node}, onnxruntime-node ${m.onnxruntime}`,
  );
});
