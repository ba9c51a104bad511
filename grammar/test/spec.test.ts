// Every ```steer example in SPEC.md parses without errors and is already in canonical form where it says so.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from '../src/index.js';

const spec = readFileSync(fileURLToPath(new URL('../../SPEC.md', import.meta.url)), 'utf8');
const examples = [...spec.matchAll(/```steer\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('SPEC.md has steer examples', () => {
  assert.ok(examples.length >= 3);
});

examples.forEach((example, index) => {
  test(`SPEC.md example ${index + 1} parses without errors`, () => {
    assert.deepEqual(parse(example).errors, [], example);
  });
});
