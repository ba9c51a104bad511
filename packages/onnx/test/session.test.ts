// Tests of sessions: provider choice and fallback, input validation, error codes, dispose.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { availableProviders, buildModel, createSession, OnnxError } from '../src/index.js';

const reluModel = buildModel({
  inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
  outputs: [{ name: 'y', type: 'float32', shape: ['n'] }],
  nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
});

function hasCode(code: string, pattern?: RegExp) {
  return (error: unknown): boolean =>
    error instanceof OnnxError &&
    error.code === code &&
    (pattern === undefined || pattern.test(error.message));
}

describe('createSession', () => {
  it('runs on the cpu provider by default', async () => {
    const session = await createSession(reluModel);
    assert.equal(session.provider, 'cpu');
    const { y } = await session.run({
      x: { type: 'float32', data: new Float32Array([-1, 0.5, 2]), dims: [3] },
    });
    assert.deepEqual([...(y!.data as Float32Array)], [0, 0.5, 2]);
    await session.dispose();
  });

  it('lists cpu among the available providers and honours webgpu / auto accordingly', async () => {
    const providers = await availableProviders();
    assert.ok(providers.includes('cpu'));
    const auto = await createSession(reluModel, { provider: 'auto' });
    assert.equal(auto.provider, providers.includes('webgpu') ? 'webgpu' : 'cpu');
    await auto.dispose();
    if (providers.includes('webgpu')) {
      const webgpu = await createSession(reluModel, { provider: 'webgpu' });
      assert.equal(webgpu.provider, 'webgpu');
      await webgpu.dispose();
    } else {
      await assert.rejects(
        createSession(reluModel, { provider: 'webgpu' }),
        hasCode('provider_unavailable', /use provider "cpu" or "auto"/),
      );
    }
  });

  it('reports a missing model file as model_not_found', async () => {
    await assert.rejects(
      createSession('/nonexistent/steer/model.onnx'),
      hasCode('model_not_found', /\/nonexistent\/steer\/model\.onnx/),
    );
  });

  it('reports garbage bytes and an invalid file as invalid_model', async () => {
    await assert.rejects(createSession(new Uint8Array([1, 2, 3, 4, 5])), hasCode('invalid_model'));
    await assert.rejects(createSession(new Uint8Array(0)), hasCode('invalid_model'));
    const dir = await mkdtemp(join(tmpdir(), 'steer-onnx-test-'));
    try {
      await writeFile(join(dir, 'broken.onnx'), 'not a model');
      await assert.rejects(createSession(join(dir, 'broken.onnx')), hasCode('invalid_model', /broken\.onnx/));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('validates feeds: missing, unknown, wrong length, wrong array type, unknown output', async () => {
    const session = await createSession(reluModel, { intraOpThreads: 1 });
    const good = { type: 'float32' as const, data: new Float32Array(2), dims: [2] };
    await assert.rejects(session.run({}), hasCode('invalid_input', /"x" is missing/));
    await assert.rejects(session.run({ x: good, extra: good }), hasCode('invalid_input', /"extra"/));
    await assert.rejects(session.run({ x: { ...good, dims: [3] } }), hasCode('invalid_input', /3 elements/));
    await assert.rejects(
      session.run({ x: { type: 'float32', data: new Int32Array(2), dims: [2] } }),
      hasCode('invalid_input', /Int32Array/),
    );
    await assert.rejects(session.run({ x: good }, ['nope']), hasCode('invalid_input', /"nope"/));
    await assert.rejects(
      session.run({ x: { type: 'int32', data: new Int32Array(2), dims: [2] } }),
      hasCode('run_failed'),
    );
    await session.dispose();
    await assert.rejects(session.run({ x: good }), hasCode('session_disposed'));
  });

  it('rejects an unknown provider and a bad thread count', async () => {
    const unknownProvider = 'cuda' as unknown as 'cpu'; // a value outside the type, as from untyped callers
    await assert.rejects(
      createSession(reluModel, { provider: unknownProvider }),
      hasCode('provider_unavailable', /"cuda"/),
    );
    await assert.rejects(createSession(reluModel, { intraOpThreads: -1 }), hasCode('invalid_input'));
  });
});
