import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInputError, SteerError } from '@steer/core';

test('a SteerError carries its component, a stable code and the cause', () => {
  const cause = new Error('disk full');
  const error = new SteerError('sae', 'sae_corrupt', 'sae: the file is torn; rebuild it', { cause });
  assert.ok(error instanceof Error);
  assert.equal(error.component, 'sae');
  assert.equal(error.code, 'sae_corrupt');
  assert.equal(error.message, 'sae: the file is torn; rebuild it');
  assert.equal(error.cause, cause);
  assert.equal(error.kind, 'input');
  assert.ok(isInputError(error));
});

test('an internal SteerError and a plain Error are not input errors', () => {
  assert.equal(isInputError(new SteerError('bridge', 'relayed', 'x', { kind: 'internal' })), false);
  assert.equal(isInputError(new Error('x')), false);
  assert.equal(isInputError('x'), false);
  assert.equal('cause' in new SteerError('cli', 'usage', 'x'), false);
});
