// Golden tests: every test/golden/*.steer parses to the AST and diagnostics stored next to it in .ast.json.
// Regenerate with UPDATE_GOLDEN=1 after an intended change, then review the diff.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { format, parse } from '../src/index.js';
import { stripRanges } from './support/strip-ranges.js';

const goldenDir = fileURLToPath(new URL('../../test/golden/', import.meta.url));
const update = process.env.UPDATE_GOLDEN === '1';
const cases = readdirSync(goldenDir)
  .filter((f) => f.endsWith('.steer'))
  .sort();

test('golden corpus is present', () => {
  assert.ok(cases.length >= 5, `expected golden .steer files in ${goldenDir}`);
});

for (const name of cases) {
  test(`golden ${name}`, () => {
    const text = readFileSync(goldenDir + name, 'utf8');
    const result = parse(text);
    const actual = { ast: result.ast, errors: result.errors, formatted: format(result.ast) };
    const expectedPath = goldenDir + name.replace(/\.steer$/, '.ast.json');
    if (update) writeFileSync(expectedPath, JSON.stringify(actual, null, 2) + '\n');
    let expected: unknown;
    try {
      expected = JSON.parse(readFileSync(expectedPath, 'utf8'));
    } catch {
      assert.fail(`missing or unreadable ${expectedPath}; run the tests with UPDATE_GOLDEN=1 to create it`);
    }
    // Compared as JSON values, so reformatting the .ast.json files (prettier) does not matter.
    assert.deepEqual(
      JSON.parse(JSON.stringify(actual)),
      expected,
      `${name}: AST differs from ${expectedPath} (UPDATE_GOLDEN=1 regenerates it)`,
    );
    if (!name.startsWith('errors')) {
      assert.deepEqual(
        result.errors.filter((e) => e.severity === 'error'),
        [],
        `${name} should parse cleanly`,
      );
      const reparsed = parse(format(result.ast));
      assert.deepEqual(stripRanges(reparsed.ast), stripRanges(result.ast), `${name}: format round trip`);
    }
  });
}
