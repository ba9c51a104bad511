// Optional LLM labels through an OpenAI-compatible chat completions endpoint: batched prompts, retries with
// exponential backoff on 429/5xx and network errors, and a label cache keyed by model and prompt content.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CatalogError } from './errors.js';
import { writeFileAtomic } from '@steer/core';

/** Where and how to ask for labels. Nothing calls out unless a config exists. */
export interface LlmConfig {
  /** e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  /** Features per request (default 10). */
  batchSize?: number;
  /** Retries after the first try (default 4). */
  maxRetries?: number;
  /** First backoff in ms, doubled each retry (default 500); a Retry-After header wins when larger. */
  backoffMs?: number;
  /** Per-request timeout in ms (default 60000). */
  timeoutMs?: number;
  /** JSON file caching labels across runs (absent: no cache). */
  cacheFile?: string;
}

/** Reads STEER_LLM_BASE_URL, STEER_LLM_MODEL and STEER_LLM_API_KEY; undefined unless both URL and model are set. */
export function llmConfigFromEnv(env: NodeJS.ProcessEnv, cacheFile?: string): LlmConfig | undefined {
  const baseUrl = env.STEER_LLM_BASE_URL?.trim();
  const model = env.STEER_LLM_MODEL?.trim();
  if (!baseUrl && !model) return undefined;
  if (!baseUrl || !model) {
    throw new CatalogError(
      'invalid_option',
      `catalog: LLM labels need both STEER_LLM_BASE_URL and STEER_LLM_MODEL (got only ${baseUrl ? 'STEER_LLM_BASE_URL' : 'STEER_LLM_MODEL'}); set both or neither`,
    );
  }
  return { baseUrl, model, apiKey: env.STEER_LLM_API_KEY || undefined, cacheFile };
}

/** What the LLM sees about one feature. */
export interface LabelRequest {
  id: number;
  keywords: string[];
  snippets: string[];
}

/** Statistics of one labelling run. */
export interface LlmLabelReport {
  labels: Map<number, string>;
  requests: number;
  retries: number;
  cached: number;
}

const SYSTEM_PROMPT =
  'You name the features of a sparse autoencoder trained on text embeddings. For each feature you get its ' +
  'keywords and snippets of the documents where it fires most. Answer with a short label (2 to 5 words) that ' +
  'names the shared topic. Reply with JSON only: {"labels": [{"id": <feature id>, "label": "<label>"}]}.';

function featurePrompt(request: LabelRequest): string {
  const snippets = request.snippets.map((s, i) => `  ${i + 1}. ${s}`).join('\n');
  return `Feature ${request.id}\nKeywords: ${request.keywords.join(', ')}\nTop documents:\n${snippets}`;
}

function cacheKey(model: string, request: LabelRequest): string {
  return createHash('sha256')
    .update(`${model}\n${request.keywords.join(',')}\n${request.snippets.join('\n')}`)
    .digest('hex');
}

async function readCache(file: string | undefined): Promise<Record<string, string>> {
  if (!file) return {};
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Extracts `{"labels": [...]}` from a chat answer (tolerates code fences and prose around the JSON). */
export function parseLabelAnswer(content: string): Map<number, string> {
  const start = content.indexOf('{');
  const end = content.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error('the answer holds no JSON object');
  const parsed = JSON.parse(content.slice(start, end + 1)) as {
    labels?: Array<{ id?: unknown; label?: unknown }>;
  };
  if (!Array.isArray(parsed.labels)) throw new Error('the answer has no "labels" array');
  const out = new Map<number, string>();
  for (const item of parsed.labels) {
    if (typeof item.id === 'number' && typeof item.label === 'string' && item.label.trim() !== '') {
      out.set(item.id, item.label.trim().replace(/\s+/g, ' ').slice(0, 80));
    }
  }
  return out;
}

async function postChat(config: LlmConfig, body: unknown, report: { retries: number }): Promise<string> {
  const url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const maxRetries = config.maxRetries ?? 4;
  const backoff = config.backoffMs ?? 500;
  let lastProblem = '';
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    if (attempt > 0) report.retries++;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(config.timeoutMs ?? 60_000),
      });
    } catch (error) {
      lastProblem = `request failed: ${(error as Error).message}`;
      await sleep(backoff * 2 ** attempt);
      continue;
    }
    if (response.ok) {
      const json = (await response.json()) as { choices?: Array<{ message?: { content?: string } }> };
      const content = json.choices?.[0]?.message?.content;
      if (typeof content !== 'string') {
        throw new CatalogError(
          'llm_failed',
          `catalog: ${url} answered without choices[0].message.content; check that it is an OpenAI-compatible chat endpoint`,
        );
      }
      return content;
    }
    const text = (await response.text()).slice(0, 200);
    lastProblem = `HTTP ${response.status}: ${text}`;
    if (response.status !== 429 && response.status < 500) {
      throw new CatalogError(
        'llm_failed',
        `catalog: LLM endpoint ${url} refused the request (${lastProblem}); check STEER_LLM_MODEL and STEER_LLM_API_KEY`,
      );
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    await sleep(Math.max(backoff * 2 ** attempt, Number.isFinite(retryAfter) ? retryAfter * 1000 : 0));
  }
  throw new CatalogError(
    'llm_failed',
    `catalog: LLM endpoint ${url} failed ${maxRetries + 1} times (last: ${lastProblem}); try again later or unset STEER_LLM_BASE_URL to keep keyword labels`,
  );
}

/**
 * Labels features with the LLM in batches of `batchSize`; cached labels are reused and new ones saved after
 * every batch. Features the model leaves out keep no LLM label.
 * @throws CatalogError `llm_failed` when the endpoint keeps failing or refuses the request.
 */
export async function labelWithLlm(
  requests: readonly LabelRequest[],
  config: LlmConfig,
  onProgress?: (done: number, total: number) => void,
): Promise<LlmLabelReport> {
  const cache = await readCache(config.cacheFile);
  const labels = new Map<number, string>();
  const report = { labels, requests: 0, retries: 0, cached: 0 };
  const pending: LabelRequest[] = [];
  for (const request of requests) {
    const hit = cache[cacheKey(config.model, request)];
    if (hit !== undefined) {
      labels.set(request.id, hit);
      report.cached++;
    } else pending.push(request);
  }
  const batchSize = config.batchSize ?? 10;
  for (let start = 0; start < pending.length; start += batchSize) {
    const batch = pending.slice(start, start + batchSize);
    report.requests++;
    const content = await postChat(
      config,
      {
        model: config.model,
        temperature: 0,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: batch.map(featurePrompt).join('\n\n') },
        ],
      },
      report,
    );
    let answer: Map<number, string>;
    try {
      answer = parseLabelAnswer(content);
    } catch (error) {
      throw new CatalogError(
        'llm_failed',
        `catalog: the LLM's answer is not the JSON asked for (${(error as Error).message}); try another model`,
      );
    }
    for (const request of batch) {
      const label = answer.get(request.id);
      if (label === undefined) continue;
      labels.set(request.id, label);
      cache[cacheKey(config.model, request)] = label;
    }
    if (config.cacheFile) {
      await mkdir(dirname(config.cacheFile), { recursive: true });
      await writeFileAtomic(config.cacheFile, JSON.stringify(cache));
    }
    onProgress?.(Math.min(pending.length, start + batchSize), pending.length);
  }
  return report;
}
