// The sizes the recipe derives from the data (RECIPE.md, section 4): latents from the number of training vectors
// and their dimensions, epochs from the vectors a run should show the SAE, which grows with its decoder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIN_LATENTS_PER_DIMENSION,
  ROWS_SEEN_PER_DECODER_WEIGHT,
  defaultAnnealEpochs,
  defaultEpochs,
  defaultLatents,
} from '../src/defaults.js';

describe('defaultLatents', () => {
  it('gives the sizes RECIPE.md names for its cases', () => {
    assert.equal(defaultLatents(8000, 64, 4), 512, 'the 64-d planted case');
    assert.equal(defaultLatents(5000, 512), 2048, 'msmarco-5k');
    // sqrt(2,798 x 512) is about 1,197, so 1,024 by the square root alone: the floor of 4 d decides.
    assert.equal(defaultLatents(1400 + 1398, 512), 2048, 'Cranfield with its lead sentences');
    assert.equal(defaultLatents(4096, 512, 4), 2048, 'the 512-d planted case');
  });

  it(`stays between ${MIN_LATENTS_PER_DIMENSION} d and 16 d, and at least 2k`, () => {
    assert.equal(defaultLatents(1, 64), MIN_LATENTS_PER_DIMENSION * 64);
    assert.equal(defaultLatents(10_000_000, 64), 1024);
    assert.equal(defaultLatents(10, 8, 64), 128);
    assert.equal(defaultLatents(50_000, 768), 8192, 'a larger corpus: the square root decides');
  });
});

describe('defaultEpochs', () => {
  it('shows a small SAE about a million vectors (the planted case keeps its 14 epochs)', () => {
    // 512 x 64 decoder weights ask for fewer than a million vectors, so the floor decides.
    assert.equal(defaultEpochs(8000, 8, { nLatents: 512, dModel: 64 }), 14);
    assert.equal(defaultEpochs(8000, 8), 14, 'without a dictionary, the floor alone');
  });

  it('shows a larger dictionary vectors in proportion to its decoder weights', () => {
    const weights = 2048 * 512;
    const epochs = defaultEpochs(5000, 8, { nLatents: 2048, dModel: 512 });
    assert.equal(epochs, Math.round((ROWS_SEEN_PER_DECODER_WEIGHT * weights) / (5000 * 9)));
    assert.ok(epochs > defaultEpochs(5000, 8), 'more than the million-vector floor gives msmarco-5k');
    assert.ok(
      defaultEpochs(5000, 8, { nLatents: 4096, dModel: 512 }) > epochs,
      'twice the latents, more epochs',
    );
  });

  it('stays between 10 and 100 epochs', () => {
    assert.equal(defaultEpochs(10_000_000, 8), 10);
    assert.equal(defaultEpochs(100, 8), 100);
    assert.equal(defaultEpochs(1000, 8, { nLatents: 65_536, dModel: 768 }), 100);
  });
});

describe('defaultAnnealEpochs', () => {
  it('is a tenth of the planned epochs, at least 3', () => {
    assert.equal(defaultAnnealEpochs(93), 10, 'msmarco-5k');
    assert.equal(defaultAnnealEpochs(83), 9, 'Cranfield');
    assert.equal(defaultAnnealEpochs(14), 3, 'the 64-d planted case');
    assert.equal(defaultAnnealEpochs(100), 10);
  });
});
