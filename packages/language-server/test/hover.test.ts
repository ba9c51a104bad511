// Hover on features, aliases, concepts, texts, presets and options, against the fixture project's catalog.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectHover } from '../src/testing/index.js';
import { testProject } from './support/project.js';

test('hover on a raw id shows label, keywords, activation statistics and top documents', async () => {
  const { context, fixture } = await testProject();
  await expectHover(
    `"x" +f${fixture.topics.learning}<|>`,
    {
      contains: [
        `**f${fixture.topics.learning}**`,
        'keywords:',
        'active in',
        'typical',
        'top documents:',
        'learning-',
      ],
    },
    context,
  );
});

test('hover on an alias describes the feature it names; an unknown alias says so', async () => {
  const { context, fixture } = await testProject();
  await expectHover(
    '"x" -@coo<|>king',
    { contains: [`**f${fixture.topics.cooking}**`, 'aliases: @cooking'] },
    context,
  );
  await expectHover('"x" -@nosuch<|>', { contains: ['no feature of SAE'] }, context);
});

test('hover on a dead feature marks it dead', async () => {
  const { context, fixture } = await testProject();
  await expectHover(
    `"x" +f${fixture.deadFeature}<|>`,
    { contains: ['*(dead)*', 'active in 0 docs'] },
    context,
  );
});

test('hover on a text lists the features it activates most, coded as its query codes it', async () => {
  const { context, fixture } = await testProject();
  const text = (hover: Awaited<ReturnType<typeof expectHover>>) => JSON.stringify(hover?.contents);
  // Residual steering (the default) with code=auto: the encoder.
  const encoded = await expectHover(
    '"the telescope saw a comet and a gal<|>axy"',
    { contains: [`f${fixture.topics.astronomy}`, 'activates most'] },
    context,
  );
  assert.doesNotMatch(text(encoded), /coded by pursuit/);
  await expectHover(
    '"the telescope saw a comet and a gal<|>axy" code=pursuit',
    { contains: ['coded by pursuit over the decoder', 'activates most', `f${fixture.topics.astronomy}`] },
    context,
  );
  // code=auto pursues where the search uses the reconstruction, as the engine does; code=encoder overrides it.
  await expectHover(
    '"the telescope saw a comet and a gal<|>axy" steer=reconstructed',
    { contains: ['coded by pursuit over the decoder', `f${fixture.topics.astronomy}`] },
    context,
  );
  const overridden = await expectHover(
    '"the telescope saw a comet and a gal<|>axy" steer=reconstructed code=encoder',
    { contains: [`f${fixture.topics.astronomy}`] },
    context,
  );
  assert.doesNotMatch(text(overridden), /coded by pursuit/);
  // A configured default steering mode counts like the query's own option.
  const reconstructing = { ...context, steerMode: 'reconstructed' as const };
  await expectHover(
    '"the telescope saw a comet and a gal<|>axy"',
    { contains: ['coded by pursuit over the decoder'] },
    reconstructing,
  );
  const configuredEncoder = await expectHover(
    '"the telescope saw a comet and a gal<|>axy"',
    { contains: [`f${fixture.topics.astronomy}`] },
    { ...reconstructing, queryCode: 'encoder' as const },
  );
  assert.doesNotMatch(text(configuredEncoder), /coded by pursuit/);
});

test('hover on a concept lists the matching features, marking the ones edited', async () => {
  const { context, fixture } = await testProject();
  await expectHover(
    '"x" +~"bread and ov<|>en"/2',
    { contains: ['a direction of 2 features', `**→** f${fixture.topics.cooking}`, 'weight'] },
    context,
  );
});

test('hover on presets shows their edits (saved and in-file); on options their meaning', async () => {
  const { context } = await testProject();
  await expectHover('"x" $jo<|>bs', { contains: ['+@career*0.5', 'SAE'] }, context);
  await expectHover(
    'preset mine = -@cooking\n"x" $mi<|>ne',
    { contains: ['preset mine = -@cooking'] },
    context,
  );
  await expectHover('"x" mo<|>de=dense', { contains: ['dense'] }, context);
  await expectHover('"x" co<|>de=pursuit', { contains: ['`pursuit`', 'decoder'] }, context);
  await expectHover('"x" $nope<|>', { contains: ['no such preset'] }, context);
});

test('no hover in whitespace', async () => {
  const { context } = await testProject();
  await expectHover('"x"  <|>  +@learning', { none: true }, context);
});

test("hover on a strength gives its latent units for this query's code and what the size means", async () => {
  const { context } = await testProject();
  await expectHover(
    '"the telescope saw a comet" +@astronomy*2<|>x',
    {
      contains: [
        "**2x** relative to the query's own code",
        'of this query',
        'latent units',
        "where this query's top results and the edited feature's meet",
        '0.5x nudges',
      ],
    },
    context,
  );
  // A subtraction keeps the query's unit: scale x |h|, no crossover.
  await expectHover(
    '"the telescope saw a comet" -@astronomy*2<|>x',
    { contains: ['of this query = '] },
    context,
  );
  await expectHover(
    '"the telescope saw a comet" +~"bread and oven"/2*0.<|>5',
    { contains: ['**0.5** latent units (absolute)', "along the concept's direction"] },
    context,
  );
});
