// Tests of the WordPiece tokenizer on handcrafted tokenizer.json files and texts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmbedError, WordPieceTokenizer } from '@steer/embed';
import { VOCAB, tokenizerJson } from './helpers/tiny-bert.js';

const tokenizer = WordPieceTokenizer.fromJSON(tokenizerJson());

test('lowercases, strips accents and splits punctuation', () => {
  assert.deepEqual(tokenizer.tokenize('Hello, World!'), ['hello', ',', 'world', '!']);
  assert.deepEqual(tokenizer.tokenize('RÉSUMÉ  Café.'), ['resume', 'cafe', '.']);
});

test('greedy longest-match-first with ## continuation pieces', () => {
  assert.deepEqual(tokenizer.tokenize('unaffable'), ['un', '##aff', '##able']);
  assert.deepEqual(tokenizer.tokenize('cats dogs'), ['cat', '##s', 'dog', '##s']);
});

test('a word with a piece missing from the vocabulary becomes one [UNK]', () => {
  assert.deepEqual(tokenizer.tokenize('the unaffablex cat'), ['the', '[UNK]', 'cat']);
  assert.deepEqual(tokenizer.tokenize('zebra'), ['[UNK]']);
});

test('encode adds [CLS] and [SEP] from the post-processor and maps ids', () => {
  const encoding = tokenizer.encode('The cat sat.');
  assert.deepEqual(encoding.tokens, ['[CLS]', 'the', 'cat', 'sat', '.', '[SEP]']);
  assert.deepEqual(
    encoding.ids,
    encoding.tokens.map((t) => VOCAB.indexOf(t)),
  );
  assert.deepEqual(encoding.typeIds, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(tokenizer.encode('').tokens, ['[CLS]', '[SEP]']);
});

test('truncation keeps at most maxLength tokens including the special tokens', () => {
  const encoding = tokenizer.encode('the cat sat on the mat', 5);
  assert.deepEqual(encoding.tokens, ['[CLS]', 'the', 'cat', 'sat', '[SEP]']);
});

test('clean_text drops control characters and maps whitespace; Chinese characters are split apart', () => {
  // U+0000 and the zero-width space U+200B are removed; tab, no-break space and CR LF separate words.
  assert.deepEqual(tokenizer.tokenize('ca\u0000t\u200b\tsat\u00a0on\r\nthe'), ['cat', 'sat', 'on', 'the']);
  assert.deepEqual(tokenizer.tokenize('中国cat'), ['中', '国', 'cat']);
});

test('special tokens written in the text stay single tokens', () => {
  assert.deepEqual(tokenizer.tokenize('cat [SEP] dog'), ['cat', '[SEP]', 'dog']);
});

test('strip_accents false keeps accents even when lowercasing', () => {
  const keepAccents = WordPieceTokenizer.fromJSON(tokenizerJson({ stripAccents: false }));
  assert.deepEqual(keepAccents.tokenize('Café'), ['[UNK]']);
  assert.deepEqual(keepAccents.tokenize('Cafe'), ['cafe']);
});

test('BertProcessing and Sequence normalizers are understood', () => {
  const json = tokenizerJson() as Record<string, unknown>;
  const tok = WordPieceTokenizer.fromJSON({
    ...json,
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }],
    },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
  });
  assert.deepEqual(tok.encode('Café').tokens, ['[CLS]', 'cafe', '[SEP]']);
});

test('a non-WordPiece tokenizer is refused with invalid_tokenizer', () => {
  const json = tokenizerJson() as Record<string, unknown>;
  assert.throws(
    () => WordPieceTokenizer.fromJSON({ ...json, model: { type: 'BPE', vocab: {}, merges: [] } }),
    (error: unknown) =>
      error instanceof EmbedError && error.code === 'invalid_tokenizer' && /WordPiece/.test(error.message),
  );
});

test('load reports unreadable and malformed files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'steer-embed-tok-'));
  try {
    await assert.rejects(WordPieceTokenizer.load(join(dir, 'missing.json')), { code: 'file_unreadable' });
    await writeFile(join(dir, 'bad.json'), '{"model": ');
    await assert.rejects(WordPieceTokenizer.load(join(dir, 'bad.json')), { code: 'invalid_tokenizer' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
