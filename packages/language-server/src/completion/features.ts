// Feature items of completion: features by name and by concept while typing (`+@lear`, `+~"career gro"`), raw
// feature ids (`+f12`), and the documentation a picked feature item gains on `completionItem/resolve`.
import {
  CompletionItemKind,
  MarkupKind,
  type CompletionItem,
  type CompletionList,
  type Range,
} from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import {
  exactReference,
  featureNames,
  featureWords,
  featuresWithWordPrefix,
  namesWithPrefix,
  percent,
  type DocumentContext,
  type LspCatalog,
} from '../context.js';
import { contentShare } from '../stop-words.js';

/** What a feature item carries to `completionItem/resolve`. */
export interface FeatureItemData {
  feature: number;
  uri: string;
}

/** Words of a name or label, lower-cased (as the word index splits them). */
const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;

/** Most items of a raw feature id list (`+f12` lists f12, f120..f129, ...). */
const MAX_ID_ITEMS = 20;

/** A rank as a sort key that sorts as text in rank order. */
function sortText(rank: number): string {
  return String(rank).padStart(5, '0');
}

/** The detail line of a feature item: its id and how often it fires. */
function detail(catalog: LspCatalog, id: number): string {
  const frequency = catalog.stats?.frequency[id];
  const info = catalog.get(id);
  const parts = [`f${id}`];
  if (frequency !== undefined) parts.push(info?.dead ? 'dead' : `${percent(frequency)} of docs`);
  return parts.join(' · ');
}

/** Adds the features of aliases and labels that start with `key`, then labels with a word that starts with it. */
function addFeaturesByName(
  catalog: LspCatalog,
  key: string,
  maxFeatures: number,
  found: number[],
  add: (id: number) => void,
): void {
  const names = namesWithPrefix(featureNames(catalog), key, maxFeatures);
  for (const entry of names) if (entry.alias) add(entry.id);
  for (const entry of names) add(entry.id);
  const words = key.match(WORD) ?? [];
  const last = words.at(-1);
  if (last === undefined) return;
  const others = words.slice(0, -1);
  for (const id of featuresWithWordPrefix(featureWords(catalog), last, maxFeatures * 4)) {
    if (found.length >= maxFeatures) break;
    const labelWords: string[] = catalog.get(id)?.label?.toLowerCase().match(WORD) ?? [];
    if (others.every((word) => labelWords.includes(word))) add(id);
  }
}

/**
 * Features for a name or concept being typed, best first: aliases and labels that start with it, labels with a
 * word that starts with it, then concept search (once ready). Labels made mostly of stop words (of any
 * language) go after the others; aliased features never do (a user named them).
 */
async function featureCandidates(
  catalog: LspCatalog,
  typed: string,
  context: DocumentContext,
  maxFeatures: number,
): Promise<number[]> {
  const found: number[] = [];
  const seen = new Set<number>();
  const add = (id: number): void => {
    if (seen.has(id) || id < 0 || id >= catalog.nLatents) return;
    seen.add(id);
    found.push(id);
  };
  const key = typed.trim().toLowerCase();
  if (key === '') {
    const aliases = featureNames(catalog).entries.filter((e) => e.alias);
    for (const entry of aliases.slice(0, maxFeatures)) add(entry.id);
    return found;
  }
  addFeaturesByName(catalog, key, maxFeatures, found, add);
  if (context.conceptSearchReady?.() !== false) {
    try {
      for (const match of await catalog.searchFeatures(typed, maxFeatures)) add(match.id);
    } catch {
      // NOTE: completion degrades to names only; diagnostics report why concept search fails.
    }
  }
  const tier = (id: number): number => {
    const info = catalog.get(id);
    if (info?.aliases?.length || !info?.label) return 0;
    return contentShare(info.label) < 0.5 ? 1 : 0;
  };
  return found
    .map((id, rank) => ({ id, rank, tier: tier(id) }))
    .sort((a, b) => a.tier - b.tier || a.rank - b.rank)
    .slice(0, maxFeatures)
    .map((c) => c.id);
}

/** Where feature items are asked for: the document, what to look up, and the text the items replace. */
export interface FeatureItemsRequest {
  document: TextDocument;
  catalog: LspCatalog;
  /** The name or concept to look up. */
  query: string;
  /** The text the picked item replaces (it starts at the `@` or `~`). */
  range: Range;
  /** The text from the range start to the cursor. */
  typed: string;
  context: DocumentContext;
  maxFeatures: number;
}

/**
 * One item per feature: shown by its alias or label, inserting the reference that names exactly that feature,
 * replacing the request's range. The list is incomplete, so that the client asks again as the user types.
 */
export async function featureItems(request: FeatureItemsRequest): Promise<CompletionList> {
  const { document, catalog, range, typed } = request;
  const ids = await featureCandidates(catalog, request.query, request.context, request.maxFeatures);
  const items = ids.map((id, rank): CompletionItem => {
    const info = catalog.get(id);
    const insert = exactReference(catalog, id);
    const alias = insert.startsWith('@') ? insert.slice(1) : undefined;
    const shown = alias ?? info?.label ?? `f${id}`;
    const description = alias ? info?.label : insert === shown ? undefined : insert;
    const data: FeatureItemData = { feature: id, uri: document.uri };
    return {
      label: shown,
      ...(description ? { labelDetails: { description } } : {}),
      kind: CompletionItemKind.Field,
      detail: detail(catalog, id),
      sortText: sortText(rank),
      // NOTE: the client filters by what was typed since the range start; every item here matched it already.
      filterText: typed,
      textEdit: { range, newText: insert },
      data,
    };
  });
  return { isIncomplete: true, items };
}

/** Items for a raw feature id being typed (`digits` after the `f`): that id, then ids it starts, level by level. */
export function idItems(catalog: LspCatalog, digits: string, range: Range): CompletionItem[] {
  const items: CompletionItem[] = [];
  if (digits === '') return items;
  let level = [Number(digits)];
  while (items.length < MAX_ID_ITEMS && level.length > 0 && level[0]! < catalog.nLatents) {
    const next: number[] = [];
    for (const id of level) {
      if (id >= catalog.nLatents || items.length >= MAX_ID_ITEMS) break;
      const info = catalog.get(id);
      items.push({
        label: `f${id}`,
        kind: CompletionItemKind.Field,
        detail: detail(catalog, id),
        ...(info?.label ? { labelDetails: { description: info.label } } : {}),
        documentation: info?.label,
        sortText: sortText(items.length),
        textEdit: { range, newText: `f${id}` },
        data: { feature: id },
      });
      for (let d = 0; d <= 9; d++) next.push(id * 10 + d);
    }
    if (Number(digits) === 0) break; // f0 has no longer ids (f01 is not f1)
    level = next;
  }
  return items;
}

/** A feature item with its documentation (label, keywords and its top document) from the catalog's details. */
export async function resolveFeatureItem(
  item: CompletionItem,
  context: DocumentContext,
): Promise<CompletionItem> {
  const data = item.data as Partial<FeatureItemData> | undefined;
  const catalog = context.catalog;
  if (!catalog || typeof data?.feature !== 'number' || item.documentation) return item;
  try {
    const description = await catalog.describe(data.feature);
    const top = description.topDocuments[0];
    const lines = [`**f${data.feature}**${description.label ? ` ${description.label}` : ''}`];
    if (description.keywords.length) lines.push(`keywords: ${description.keywords.slice(0, 8).join(', ')}`);
    if (top) lines.push(`> ${top.snippet.replace(/\s+/g, ' ')}`);
    return { ...item, documentation: { kind: MarkupKind.Markdown, value: lines.join('\n\n') } };
  } catch {
    return item; // NOTE: a catalog without details still completes; the item just has no snippet.
  }
}
