// Handlers of the custom requests (protocol.ts): run the query under the cursor steered and unsteered,
// explain a feature, save a query's edits as a preset.
import type { ResolvedQuery, SearchResult, SteerEngine } from '@steer/engine';
import { formatStatement, type PresetDefinition, type Steer } from '@steer/grammar';
import { savePreset } from '@steer/presets';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentContext } from './context.js';
import { parsed, referenceAt, resolveDirect, statementAt } from './document.js';
import { SteerRequestError } from './errors.js';
import { describeFeatureMarkdown } from './hover.js';
import type {
  ExplainFeatureParams,
  ExplainFeatureResult,
  HitFeature,
  RunQueryHit,
  RunQueryParams,
  RunQueryResult,
  SavePresetParams,
  SavePresetResult,
} from './protocol.js';

type SearchHit = SearchResult['hits'][number];

/** What the handlers need of a document's project. */
export interface RequestServices {
  context(): Promise<DocumentContext>;
  engine(): Promise<SteerEngine>;
  presetsDir(): Promise<string>;
}

/** The custom requests of the Steer protocol. Errors are thrown with a message for the user. */
export interface CustomRequestHandlers {
  runQuery(
    document: TextDocument,
    params: RunQueryParams,
    services: RequestServices,
  ): Promise<RunQueryResult>;
  explainFeature(
    document: TextDocument,
    params: ExplainFeatureParams,
    services: RequestServices,
  ): Promise<ExplainFeatureResult>;
  savePreset(
    document: TextDocument,
    params: SavePresetParams,
    services: RequestServices,
  ): Promise<SavePresetResult>;
}

function steersText(steers: Steer[]): string {
  const definition: PresetDefinition = {
    kind: 'preset-definition',
    name: 'x',
    nameRange: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    steers,
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
  };
  return formatStatement(definition).replace(/^preset x =\s?/, '');
}

function snippet(text: string, max = 280): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The features behind each hit's score (none when there is no SAE, or with a warning when explaining fails). */
async function explainHits(
  engine: SteerEngine,
  vector: Float32Array,
  hits: SearchHit[],
  warnings: string[],
  topFeatures: number,
  search: Pick<ResolvedQuery, 'mode' | 'index'>,
): Promise<HitFeature[][]> {
  if (!engine.sae || hits.length === 0) return hits.map(() => [] as HitFeature[]);
  try {
    const explainedHits = await engine.explain(vector, hits, topFeatures, search);
    return explainedHits.map((hit) =>
      hit.features.map((f) => ({
        feature: f.feature,
        contribution: f.contribution,
        ...(f.label ? { label: f.label } : {}),
      })),
    );
  } catch (cause) {
    warnings.push(`could not explain the hits: ${(cause as Error).message}`);
    return hits.map(() => [] as HitFeature[]);
  }
}

/** `steer/runQuery`: the query at the cursor, steered and unsteered, each hit with the features behind its score. */
async function runQuery(
  document: TextDocument,
  params: RunQueryParams,
  services: RequestServices,
  topFeatures: number,
): Promise<RunQueryResult> {
  const result = parsed(document);
  const statement = statementAt(result, params.position);
  if (!statement || statement.kind !== 'query') {
    throw new SteerRequestError(
      `steer: line ${params.position.line + 1} holds no query; put the cursor on a query line`,
    );
  }
  // NOTE: the document's preset definitions travel with the query so `$name` resolves as in the editor.
  const definitions = result.ast.statements
    .filter((s) => s.kind === 'preset-definition')
    .map((s) => document.getText(s.range));
  const queryText = document.getText(statement.range);
  const engine = await services.engine();
  const {
    resolved,
    hits,
    baseline = [],
  } = await engine.search([...definitions, queryText].join('\n'), { compare: true });
  const warnings = resolved.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
  const [steeredFeatures, baselineFeatures] = await Promise.all([
    explainHits(engine, resolved.vector, hits, warnings, topFeatures, resolved),
    explainHits(engine, resolved.baseVector, baseline, warnings, topFeatures, resolved),
  ]);
  const baselineRank = new Map(baseline.map((h, i) => [h.id, i + 1]));
  const steeredRank = new Map(hits.map((h, i) => [h.id, i + 1]));
  const catalog = (await services.context()).catalog;
  const steered: RunQueryHit[] = hits.map((hit, i) => {
    const other = baselineRank.get(hit.id) ?? null;
    return {
      id: hit.id,
      score: hit.score,
      rank: i + 1,
      text: snippet(hit.text),
      otherRank: other,
      moved: other === null ? null : other - (i + 1),
      features: steeredFeatures[i]!,
    };
  });
  const unsteered: RunQueryHit[] = baseline.map((hit, i) => ({
    id: hit.id,
    score: hit.score,
    rank: i + 1,
    text: snippet(hit.text),
    otherRank: steeredRank.get(hit.id) ?? null,
    features: baselineFeatures[i]!,
  }));
  return {
    query: queryText,
    index: resolved.index ?? engine.config?.index ?? 'default',
    backend: engine.backend.kind,
    k: resolved.k,
    edits: resolved.plan.edits.map((e) => {
      const label = catalog?.get(e.feature)?.label;
      return { feature: e.feature, op: e.op, value: e.value, ...(label ? { label } : {}) };
    }),
    steered,
    unsteered,
    warnings,
  };
}

/** `steer/explainFeature`: what the catalog knows about the feature at the cursor (or the one given). */
async function explainFeature(
  document: TextDocument,
  params: ExplainFeatureParams,
  services: RequestServices,
): Promise<ExplainFeatureResult> {
  const context = await services.context();
  const catalog = context.catalog;
  if (!catalog) throw new SteerRequestError('steer: no SAE is configured; set "sae" in steer.config.json');
  let id = params.feature;
  if (id === undefined && params.position) {
    const node = referenceAt(parsed(document), params.position);
    if (node) id = resolveDirect(node, catalog);
    if (id === undefined && node?.kind === 'concept')
      id = (await catalog.searchFeatures(node.text, 1))[0]?.id;
  }
  if (id === undefined) {
    throw new SteerRequestError(
      'steer: no feature at the cursor; put it on a feature id (f12), an @alias or a ~concept',
    );
  }
  const description = await catalog.describe(id);
  return {
    feature: id,
    keywords: description.keywords,
    aliases: description.aliases,
    topDocuments: description.topDocuments,
    markdown: describeFeatureMarkdown(description, 10),
    ...(description.label ? { label: description.label } : {}),
    ...(description.dead !== undefined ? { dead: description.dead } : {}),
    ...(description.stats ? { stats: description.stats } : {}),
  };
}

/** `steer/savePreset`: saves the edits of the query at the cursor (or the ones given) as a preset. */
async function savePresetRequest(
  document: TextDocument,
  params: SavePresetParams,
  services: RequestServices,
): Promise<SavePresetResult> {
  const context = await services.context();
  if (!context.catalog)
    throw new SteerRequestError('steer: saving a preset needs an SAE; set "sae" in steer.config.json');
  let edits = params.edits;
  if (edits === undefined && params.position) {
    const statement = statementAt(parsed(document), params.position);
    if (statement && statement.steers.length > 0) edits = steersText(statement.steers);
  }
  if (!edits || edits.trim() === '') {
    throw new SteerRequestError('steer: the query at the cursor has no feature edits or $presets to save');
  }
  const saved = await savePreset(await services.presetsDir(), params.name, edits, {
    catalog: context.catalog,
    overwrite: params.overwrite ?? false,
  });
  return {
    name: saved.name,
    path: saved.path,
    edits: saved.edits,
    warnings: saved.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.message),
    ...(saved.saeId ? { saeId: saved.saeId } : {}),
  };
}

/** Creates the default handlers; `topFeatures` features explain each hit (default 5). */
export function createCustomRequestHandlers(options: { topFeatures?: number } = {}): CustomRequestHandlers {
  const topFeatures = options.topFeatures ?? 5;
  return {
    runQuery: (document, params, services) => runQuery(document, params, services, topFeatures),
    explainFeature,
    savePreset: savePresetRequest,
  };
}
