// Every error class of the libraries derives from SteerError with its component, so the CLI maps them by kind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BridgeHttpError } from '@steer/bridge';
import { CatalogError } from '@steer/catalog';
import { isInputError, SteerError } from '@steer/core';
import { ElasticsearchBackendError } from '@steer/elasticsearch';
import { EmbedError } from '@steer/embed';
import { ConfigError, SteerQueryError } from '@steer/engine';
import { EvalError } from '@steer/eval';
import { SteerRequestError } from '@steer/language-server';
import { PresetError } from '@steer/presets';
import { SaeError } from '@steer/sae';
import { SearchError } from '@steer/search';
import { UsageError } from '../src/command.js';

test('every library error is an input SteerError naming its component, with its own name and code', () => {
  const errors: [SteerError, string, string, string][] = [
    [new SaeError('sae_corrupt', 'm'), 'SaeError', 'sae', 'sae_corrupt'],
    [new EmbedError('dims_mismatch', 'm'), 'EmbedError', 'embed', 'dims_mismatch'],
    [new SearchError('index_not_found', 'm'), 'SearchError', 'search', 'index_not_found'],
    [new ElasticsearchBackendError('es_unreachable', 'm'), 'SearchError', 'elasticsearch', 'backend_error'],
    [new CatalogError('catalog_missing', 'm'), 'CatalogError', 'catalog', 'catalog_missing'],
    [new PresetError('preset-not-found', 'm'), 'PresetError', 'presets', 'preset-not-found'],
    [new ConfigError('m'), 'ConfigError', 'engine', 'config_invalid'],
    [new SteerQueryError('m', []), 'SteerQueryError', 'engine', 'steer_query_invalid'],
    [new EvalError('m', 'dataset_malformed'), 'EvalError', 'eval', 'dataset_malformed'],
    [new SteerRequestError('m'), 'SteerRequestError', 'language-server', 'request_failed'],
    [new BridgeHttpError(400, 'parsing_exception', 'm'), 'BridgeHttpError', 'bridge', 'parsing_exception'],
    [new UsageError('m'), 'UsageError', 'cli', 'usage'],
  ];
  for (const [error, name, component, code] of errors) {
    assert.ok(error instanceof SteerError, name);
    assert.ok(isInputError(error), name);
    assert.deepEqual([error.name, error.component, error.code, error.message], [name, component, code, 'm']);
  }
});
