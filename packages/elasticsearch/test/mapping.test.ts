// Reading dense_vector / sparse_vector fields and Steer's _meta from a mapping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseVectorField,
  denseVectorFields,
  latentNormRecord,
  recordedLatentNorm,
  sparseVectorFields,
  steerIndexMeta,
} from '../src/index.js';

const mappings = {
  _meta: { steer: { embeddingModel: 'bge-small' } },
  properties: {
    title: { type: 'text' },
    emb: { type: 'dense_vector', dims: 384, index: true, similarity: 'dot_product' },
    nested: { properties: { v: { type: 'dense_vector', dims: 8 } } },
    steer_latents: { type: 'sparse_vector' },
  },
};

describe('mapping', () => {
  it('finds dense_vector fields with dims and similarity (cosine by default), nested ones by dotted path', () => {
    assert.deepEqual(denseVectorFields(mappings), [
      { path: 'emb', dims: 384, similarity: 'dot_product', indexed: true, elementType: 'float' },
      { path: 'nested.v', dims: 8, similarity: 'cosine', indexed: true, elementType: 'float' },
    ]);
    assert.deepEqual(sparseVectorFields(mappings), ['steer_latents']);
    assert.deepEqual(steerIndexMeta(mappings), { embeddingModel: 'bge-small' });
  });

  it('reads the latent normalisation record: plain (complete), incomplete, unknown values left out', () => {
    const withLatents = (entry: unknown) => ({ _meta: { steer: { latents: { steer_latents: entry } } } });
    const plain = withLatents({ norm: 'none' });
    assert.equal(recordedLatentNorm(plain, 'steer_latents'), 'none');
    assert.deepEqual(latentNormRecord(plain, 'steer_latents'), { norm: 'none' });
    const unfinished = withLatents({ norm: 'l2', complete: false, replacing: true });
    assert.equal(recordedLatentNorm(unfinished, 'steer_latents'), undefined, 'no norm is guaranteed yet');
    assert.deepEqual(latentNormRecord(unfinished, 'steer_latents'), {
      norm: 'l2',
      complete: false,
      replacing: true,
    });
    assert.deepEqual(
      latentNormRecord(withLatents({ norm: 'l2', complete: true, replacing: true }), 'steer_latents'),
      {
        norm: 'l2',
      },
    );
    assert.equal(latentNormRecord(withLatents({ norm: 'max' }), 'steer_latents'), undefined);
    assert.equal(latentNormRecord(mappings, 'steer_latents'), undefined);
  });

  it('chooses the named field, and refuses ambiguity, absence, max_inner_product and unindexed fields', () => {
    const fields = denseVectorFields(mappings);
    assert.equal(chooseVectorField('docs', fields, 'nested.v').dims, 8);
    assert.throws(() => chooseVectorField('docs', fields), /several dense_vector fields \(emb, nested.v\)/);
    assert.throws(() => chooseVectorField('docs', []), /has no dense_vector field/);
    assert.throws(
      () => chooseVectorField('docs', fields, 'missing'),
      /no dense_vector field 'missing' \(it has: emb, nested.v\)/,
    );
    const mip = denseVectorFields({
      properties: { v: { type: 'dense_vector', dims: 4, similarity: 'max_inner_product' } },
    });
    assert.throws(() => chooseVectorField('docs', mip), /max_inner_product, which Steer does not support/);
    const unindexed = denseVectorFields({
      properties: { v: { type: 'dense_vector', dims: 4, index: false } },
    });
    assert.throws(() => chooseVectorField('docs', unindexed), /"index": false/);
  });

  it('refuses byte and bit vectors up front: float query vectors cannot search them', () => {
    for (const elementType of ['byte', 'bit']) {
      const fields = denseVectorFields({
        properties: { v: { type: 'dense_vector', dims: 8, element_type: elementType } },
      });
      assert.throws(
        () => chooseVectorField('docs', fields),
        (e: unknown) =>
          (e as { esCode?: string }).esCode === 'unsupported_element_type' &&
          new RegExp(
            `stores ${elementType} vectors .*re-index into a dense_vector field with element_type float`,
          ).test((e as Error).message),
      );
    }
    const bfloat = denseVectorFields({
      properties: { v: { type: 'dense_vector', dims: 8, element_type: 'bfloat16' } },
    });
    assert.equal(chooseVectorField('docs', bfloat).path, 'v');
  });
});
