// Tests of compile()/compileText() against a small in-memory catalog and preset store.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compile, compileText, parse, type Query } from '../src/index.js';
import { features, memoryCatalog, memoryPresets } from './support/memory-catalog.js';

const catalog = memoryCatalog();

async function plan(text: string, presets = memoryPresets({})) {
  const result = await compileText(text, { catalog, presets });
  return {
    plan: result.plans[0]!,
    diagnostics: result.diagnostics,
    codes: result.diagnostics.map((d) => d.code),
  };
}

describe('compile: texts, edits and strengths', () => {
  test('texts keep their weights; default weight is 1', async () => {
    const { plan: p, codes } = await plan('"jobs" "skills"^0.5');
    assert.deepEqual(p.texts, [
      { text: 'jobs', weight: 1 },
      { text: 'skills', weight: 0.5 },
    ]);
    assert.deepEqual(codes, []);
  });

  test('operators map to add/set/zero; relative strengths are multiples of the query unit', async () => {
    const { plan: p, codes } = await plan(
      '"q" +f0*0.5 -f1 -f4*0.2 =f5*0.3 +@pay*2x =@learning*0.7 -@"career growth"*0.5x',
    );
    assert.deepEqual(codes, ['conflicting-edit', 'conflicting-edit']); // f0 as +f0*0.5 and +@pay*2x; f4 twice
    assert.deepEqual(
      p.edits.map(({ feature, op, value }) => [feature, op, value]),
      [
        [0, 'add', 0.5],
        [1, 'zero', 0],
        [4, 'add', -0.2],
        [5, 'set', 0.3],
        [2, 'set', 0.7],
      ],
    );
    // The memory catalog's calibration: 1x = 2 x |h|, and a typical query has |h| = 0.25, so 1x = 0.5.
    const relative = await plan('"q" +@pay*2x -@"career growth"*0.5x');
    assert.deepEqual(
      relative.plan.edits.map(({ feature, value, relative }) => [feature, value, relative]),
      [
        [0, 1, 2],
        [4, -0.25, 0.5],
      ],
    );
    assert.deepEqual(relative.plan.strengthUnit, {
      unit: 0.5,
      scale: 2,
      queryNorm: 0.25,
      basis: 'typical-query',
    });
  });

  test("relative strengths follow the query's own code when the context can encode it", async () => {
    const seen: string[] = [];
    const context = {
      catalog: memoryCatalog(),
      queryNorm: async (texts: ReadonlyArray<{ text: string; weight: number }>) => {
        seen.push(texts.map((t) => `${t.text}^${t.weight}`).join(' '));
        return texts.length * 0.1;
      },
    };
    const { plans } = await compileText('"a" "b"^0.5 +f0*3x +f1\n"c" -f4', context);
    assert.deepEqual(seen, ['a^1 b^0.5'], 'encoded once, only for the query with relative strengths');
    assert.deepEqual(
      plans[0]!.edits.map(({ feature, value }) => [feature, Number(value.toFixed(6))]),
      [
        [0, 1.2],
        [1, 0.4],
      ],
    );
    assert.equal(plans[0]!.strengthUnit!.basis, 'query');
    assert.equal(plans[1]!.strengthUnit, undefined);
    const failing = await compileText('"a" +f0', {
      catalog: memoryCatalog(),
      queryNorm: async () => {
        throw new Error('embedder offline');
      },
    });
    assert.equal(failing.diagnostics[0]!.code, 'uncalibrated-strength');
    assert.match(failing.diagnostics[0]!.message, /embedder offline.*typical query \(0\.5 latent units\)/);
    assert.equal(failing.plans[0]!.edits[0]!.value, 0.5);
  });

  test("an amplify's 1x is the crossover of the query and its direction; set and subtract keep the query's unit", async () => {
    const asked: string[] = [];
    const context = {
      catalog: memoryCatalog(),
      queryNorm: async () => 0.4,
      crossover: async (
        texts: ReadonlyArray<{ text: string; weight: number }>,
        direction: ReadonlyArray<{ feature: number; weight: number }>,
      ) => {
        asked.push(
          `${texts.map((t) => t.text).join(' ')}: ${direction.map((d) => `f${d.feature}`).join(' ')}`,
        );
        return direction[0]!.feature === 5 ? undefined : 0.3 * direction.length;
      },
    };
    const { plans, diagnostics } = await compileText('"a" +f0*2x +f1*0.5 -f4*1x =f2 +f5', context);
    assert.deepEqual(diagnostics, []);
    // 1x = scale 2 x |h| 0.4 = 0.8 for the query; the crossover (0.3) for +f0; +f5 does not cross: 0.8.
    assert.deepEqual(
      plans[0]!.edits.map(({ feature, op, value, unit }) => [feature, op, Number(value.toFixed(6)), unit]),
      [
        [0, 'add', 0.6, 0.3],
        [1, 'add', 0.5, undefined],
        [4, 'add', -0.8, 0.8],
        [2, 'set', 0.8, 0.8],
        [5, 'add', 0.8, 0.8],
      ],
    );
    assert.deepEqual(asked, ['a: f0', 'a: f5'], 'asked for relative amplifies only');
    assert.equal(plans[0]!.strengthUnit!.basis, 'query');
    const failing = await compileText('"a" +f0', {
      ...context,
      crossover: async () => {
        throw new Error('pool unreadable');
      },
    });
    assert.equal(failing.diagnostics[0]!.code, 'uncalibrated-strength');
    assert.match(failing.diagnostics[0]!.message, /pool unreadable.*1x is 0\.8 latent units/);
    assert.equal(failing.plans[0]!.edits[0]!.value, 0.8);
  });

  test('default strength is 1x; without any calibration 1x is one latent unit and warns', async () => {
    const { plan: p, diagnostics } = await plan('"q" +f0 =@jobs @learning');
    assert.deepEqual(
      p.edits.map(({ feature, op, value }) => [feature, op, value]),
      [
        [0, 'add', 0.5],
        [1, 'set', 0.5],
        [2, 'add', 0.5],
      ],
    );
    assert.deepEqual(diagnostics, []);
    const uncalibrated = await compile(parse('"q" +f0 -f1*2x').ast.statements[0] as Query, {
      catalog: { ...memoryCatalog(), strengthCalibration: () => undefined },
    });
    assert.deepEqual(
      uncalibrated.plan.edits.map(({ feature, value }) => [feature, value]),
      [
        [0, 1],
        [1, -2],
      ],
      'no typical query norm: the fallback unit, 1 latent unit per 1x',
    );
    assert.deepEqual(
      uncalibrated.diagnostics.map((d) => d.code),
      ['uncalibrated-strength'],
    );
  });

  test('edit sources point at the edit in the query', async () => {
    const { plan: p } = await plan('"q"  +f1*0.5');
    assert.deepEqual(p.edits[0]!.source, {
      start: { line: 0, character: 5 },
      end: { line: 0, character: 12 },
    });
  });

  test('unknown ids, aliases and ambiguous aliases are diagnostics with ranges', async () => {
    const { plan: p, diagnostics } = await plan('"q" +f99 +@nope +@dup');
    assert.deepEqual(p.edits, []);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.range.start.character, d.range.end.character]),
      [
        ['unknown-feature', 5, 8],
        ['unknown-alias', 10, 15],
        ['ambiguous-alias', 17, 21],
      ],
    );
    assert.match(diagnostics[0]!.message, /SAE sae-test has 16 features \(f0 to f15\)/);
    assert.match(diagnostics[2]!.message, /f6, f7/);
  });

  test('strengths and weights out of range, zero strengths, dead features', async () => {
    const { codes, plan: p } = await plan('"q"^11 "r" +f0*20x +f1*101 +f4*0 -f3');
    assert.deepEqual(codes, [
      'weight-out-of-range',
      'strength-out-of-range',
      'strength-out-of-range',
      'zero-strength',
      'dead-feature',
    ]);
    assert.deepEqual(p.texts, [{ text: 'r', weight: 1 }]);
  });

  test('concepts resolve to the best matches, up to the count, sharing a unit direction', async () => {
    const { plan: p, codes } = await plan('"q" +~"career growth"/2*1x -~"unheard of"');
    const share = 0.5 / Math.sqrt(2);
    assert.deepEqual(
      p.edits.map(({ feature, value }) => [feature, Number(value.toFixed(9))]),
      [
        [4, Number(share.toFixed(9))],
        [5, Number(share.toFixed(9))],
      ],
    );
    assert.deepEqual(codes, ['concept-no-match']);
  });

  test("a catalog's concept direction sets the features and their weights; counts are checked", async () => {
    const asked: Array<number | undefined> = [];
    const directional = {
      ...catalog,
      resolveConcept: async (_text: string, count?: number) => {
        asked.push(count);
        return [
          { feature: features[4]!, weight: 0.8 },
          { feature: features[1]!, weight: 0.3 },
        ];
      },
    };
    const run = async (text: string) =>
      compile(parse(text).ast.statements[0] as Query, { catalog: directional });
    const { plan: p } = await run('"q" +~"growth"*2x -~"growth"/2');
    assert.deepEqual(asked, [undefined, 2]);
    assert.deepEqual(
      p.edits.map(({ feature, op, value, relative }) => [feature, op, Number(value.toFixed(9)), relative]),
      [
        [4, 'add', 0.8, 1.6],
        [1, 'add', 0.3, 0.6],
      ],
      '2x of the unit 0.5, times each weight; the second concept edit is overridden by the first',
    );
    const absolute = await run('"q" =~"growth"*0.5');
    assert.deepEqual(
      absolute.plan.edits.map(({ feature, op, value }) => [feature, op, value]),
      [
        [4, 'set', 0.4],
        [1, 'set', 0.15],
      ],
    );
    assert.deepEqual(
      (await run('"q" +~"growth"/21')).diagnostics.map((d) => d.code),
      ['invalid-count'],
    );
  });

  test('explicit edits override concept matches (info), equal explicit edits warn', async () => {
    const { plan: p, diagnostics } = await plan('"q" ~"career growth" -f4 +f1*0.1 +f1*0.1');
    assert.deepEqual(
      p.edits.map(({ feature, op }) => [feature, op]),
      [
        [4, 'zero'],
        [5, 'add'],
        [1, 'add'],
      ],
    );
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.severity]),
      [
        ['overridden-edit', 'info'],
        ['duplicate-edit', 'warning'],
      ],
    );
  });

  test('a query without text is an error', async () => {
    assert.deepEqual((await plan('+f1')).codes, ['no-text']);
  });

  test('a failing concept search is a diagnostic, not an exception', async () => {
    const failing = { ...catalog, searchConcept: async () => Promise.reject(new Error('index offline')) };
    const query = parse('"q" ~"x"').ast.statements[0] as Query;
    const { diagnostics } = await compile(query, { catalog: failing });
    assert.equal(diagnostics[0]!.code, 'concept-search-failed');
    assert.match(diagnostics[0]!.message, /index offline/);
  });
});

describe('compile: options and filters', () => {
  test('options', async () => {
    const { plan: p, codes } = await plan(
      '"q" k=10 mode=hybrid index=docs steer=reconstructed code=pursuit candidates=100',
    );
    assert.deepEqual(p.options, {
      k: 10,
      mode: 'hybrid',
      index: 'docs',
      steer: 'reconstructed',
      code: 'pursuit',
      numCandidates: 100,
    });
    assert.deepEqual(codes, []);
    assert.deepEqual((await plan('"q" code=auto')).plan.options, { code: 'auto' });
  });

  test('invalid options are reported once; duplicates warn and the last wins', async () => {
    const { plan: p, codes } = await plan('"q" k=0 k=5 k=6 candidates=2');
    assert.deepEqual(p.options, { k: 6, numCandidates: 2 });
    assert.deepEqual(codes, [
      'invalid-option-value',
      'duplicate-option',
      'duplicate-option',
      'invalid-option-value',
    ]);
  });

  test('filter compiles to the backend-neutral form', async () => {
    const { plan: p } = await plan(
      '"q" where year>=2020 and (lang:en or lang:de) and tag:(a,2) and not x:1..3 and team!=ops and ok:true and n<5 and m>1 and o<=2',
    );
    assert.deepEqual(p.filter, {
      op: 'and',
      filters: [
        { op: 'range', field: 'year', gte: 2020 },
        {
          op: 'or',
          filters: [
            { op: 'eq', field: 'lang', value: 'en' },
            { op: 'eq', field: 'lang', value: 'de' },
          ],
        },
        { op: 'in', field: 'tag', values: ['a', 2] },
        { op: 'not', filter: { op: 'range', field: 'x', gte: 1, lte: 3 } },
        { op: 'not', filter: { op: 'eq', field: 'team', value: 'ops' } },
        { op: 'eq', field: 'ok', value: true },
        { op: 'range', field: 'n', lt: 5 },
        { op: 'range', field: 'm', gt: 1 },
        { op: 'range', field: 'o', lte: 2 },
      ],
    });
  });

  test('an empty between range warns', async () => {
    assert.deepEqual((await plan('"q" where x:3..1')).codes, ['empty-range']);
  });
});

describe('compile: presets', () => {
  const presets = memoryPresets({
    career: { text: '# sae: sae-test\npreset career = +@salary*0.5 +@jobs*0.3\n', saeId: 'sae-test' },
    foreignAliases: { text: 'preset foreignAliases = +@salary*0.5', saeId: 'sae-other' },
    foreignIds: { text: 'preset foreignIds = +f0*0.5 +@jobs', saeId: 'sae-other' },
    headerOnly: { text: '# sae: sae-other\npreset headerOnly = +f1' },
    broken: { text: 'preset broken = +f1*' },
    misnamed: { text: 'preset other = +f1' },
  });

  test('a stored preset is inlined; its edits point at the $ref', async () => {
    const { plan: p, codes } = await plan('"q" $career', presets);
    assert.deepEqual(codes, []);
    assert.deepEqual(
      p.edits.map(({ feature, value, source }) => [feature, value, source.start.character]),
      [
        [0, 0.5, 4],
        [1, 0.3, 4],
      ],
    );
  });

  test('between presets the first edit of a feature stays', async () => {
    const result = await compileText('"q" $a $b\npreset a = +f1*0.1\npreset b = +f1*0.2 +f2*0.3', {
      catalog,
    });
    assert.deepEqual(
      result.plans[0]!.edits.map((e) => [e.feature, e.value]),
      [
        [1, 0.1],
        [2, 0.3],
      ],
    );
    assert.deepEqual(
      result.diagnostics.map((d) => [d.code, d.severity]),
      [['overridden-edit', 'info']],
    );
  });

  test('query edits override preset edits', async () => {
    const { plan: p, diagnostics } = await plan('"q" $career -f0', presets);
    assert.deepEqual(
      p.edits.map(({ feature, op }) => [feature, op]),
      [
        [0, 'zero'],
        [1, 'add'],
      ],
    );
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.severity]),
      [['overridden-edit', 'info']],
    );
  });

  test('a preset of another SAE: aliases re-resolve with a warning, ids are an error', async () => {
    const aliases = await plan('"q" $foreignAliases', presets);
    assert.deepEqual(
      aliases.diagnostics.map((d) => [d.code, d.severity]),
      [['preset-reresolved', 'warning']],
    );
    assert.equal(aliases.plan.edits.length, 1);
    for (const name of ['foreignIds', 'headerOnly']) {
      const ids = await plan(`"q" $${name}`, presets);
      assert.deepEqual(ids.codes, ['preset-sae-mismatch']);
      assert.match(ids.diagnostics[0]!.message, /made for SAE sae-other, not sae-test/);
      assert.deepEqual(ids.plan.edits, []);
    }
  });

  test('unknown, broken and misnamed presets, and cycles, are diagnostics', async () => {
    const { codes } = await plan('"q" $nope $broken $misnamed $a\npreset a = $b\npreset b = $a', presets);
    assert.deepEqual(codes.slice(0, 4), [
      'unknown-preset',
      'invalid-preset',
      'invalid-preset',
      'preset-cycle',
    ]);
    assert.ok(codes.every((c) => c === 'unknown-preset' || c === 'invalid-preset' || c === 'preset-cycle'));
  });

  test('presets defined in the file are visible to every query and shadow the store', async () => {
    const result = await compileText('"a" $career\npreset career = +f5*0.1\n"b" $career', {
      catalog,
      presets,
    });
    assert.deepEqual(result.diagnostics, []);
    assert.deepEqual(
      result.plans.map((p) => p.edits.map((e) => [e.feature, e.value])),
      [[[5, 0.1]], [[5, 0.1]]],
    );
  });

  test('inner diagnostics of a preset name it', async () => {
    const result = await compileText('"a" $p\npreset p = +@nope', { catalog });
    const atRef = result.diagnostics.find((d) => d.range.start.line === 0)!;
    assert.equal(atRef.code, 'unknown-alias');
    assert.match(atRef.message, /^in \$p: unknown feature alias or label 'nope'/);
  });
});
