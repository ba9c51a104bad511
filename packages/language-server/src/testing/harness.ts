// In-process test helpers in the style of Langium's `langium/test`: run the real providers on a text with a
// cursor marker, e.g. `await expectCompletion('"jobs" +@lea<|>', { includes: ['learning'] }, context)`.
import assert from 'node:assert/strict';
import type { CompletionItem, Diagnostic, Hover } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { EMPTY_CONTEXT, type DocumentContext } from '../context.js';
import { createSteerProviders, type SteerProviders } from '../providers.js';

/** The cursor marker in test texts. */
export const CURSOR = '<|>';

let counter = 0;

/** A document from `text` with the cursor marker removed, and the marker's position. */
export function documentWithCursor(
  textWithCursor: string,
  uri = `file:///steer-test-${++counter}.steer`,
): { document: TextDocument; position: { line: number; character: number } } {
  const offset = textWithCursor.indexOf(CURSOR);
  const text =
    offset < 0
      ? textWithCursor
      : textWithCursor.slice(0, offset) + textWithCursor.slice(offset + CURSOR.length);
  const document = TextDocument.create(uri, 'steer', 1, text);
  return { document, position: document.positionAt(offset < 0 ? text.length : offset) };
}

const defaultProviders = createSteerProviders();

export interface CompletionExpectation {
  /** Labels that must be offered. */
  includes?: string[];
  /** Labels that must not be offered. */
  excludes?: string[];
  /** The label of the first item (by sortText, then order). */
  first?: string;
}

function sorted(items: CompletionItem[]): CompletionItem[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => (a.item.sortText ?? '').localeCompare(b.item.sortText ?? '') || a.i - b.i)
    .map((x) => x.item);
}

/** Runs completion at the cursor marker and checks the offered labels; returns the items. */
export async function expectCompletion(
  textWithCursor: string,
  expectation: CompletionExpectation,
  context: DocumentContext = EMPTY_CONTEXT,
  providers: SteerProviders = defaultProviders,
): Promise<CompletionItem[]> {
  const { document, position } = documentWithCursor(textWithCursor);
  const items = sorted((await providers.completion.complete(document, position, context)).items);
  const labels = items.map((i) => i.label);
  for (const label of expectation.includes ?? []) {
    assert.ok(
      labels.includes(label),
      `completion of ${JSON.stringify(textWithCursor)} lacks '${label}'; got [${labels.join(', ')}]`,
    );
  }
  for (const label of expectation.excludes ?? []) {
    assert.ok(!labels.includes(label), `completion of ${JSON.stringify(textWithCursor)} offers '${label}'`);
  }
  if (expectation.first !== undefined) {
    assert.equal(
      labels[0],
      expectation.first,
      `first completion of ${JSON.stringify(textWithCursor)}; got [${labels.join(', ')}]`,
    );
  }
  return items;
}

/** Runs hover at the cursor marker; checks that its Markdown contains every string of `contains`. */
export async function expectHover(
  textWithCursor: string,
  expectation: { contains?: string[]; none?: boolean },
  context: DocumentContext = EMPTY_CONTEXT,
  providers: SteerProviders = defaultProviders,
): Promise<Hover | null> {
  const { document, position } = documentWithCursor(textWithCursor);
  const hover = await providers.hover.hover(document, position, context);
  if (expectation.none) {
    assert.equal(hover, null, `expected no hover on ${JSON.stringify(textWithCursor)}`);
    return hover;
  }
  assert.ok(hover, `expected a hover on ${JSON.stringify(textWithCursor)}`);
  const value =
    typeof hover.contents === 'object' && 'value' in hover.contents
      ? hover.contents.value
      : JSON.stringify(hover.contents);
  for (const part of expectation.contains ?? []) {
    assert.ok(value.includes(part), `hover on ${JSON.stringify(textWithCursor)} lacks '${part}':\n${value}`);
  }
  return hover;
}

/** Diagnoses `text`; checks that the codes found are exactly `codes` (in document order) when given. */
export async function expectDiagnostics(
  text: string,
  expectation: { codes?: string[]; includes?: string[] },
  context: DocumentContext = EMPTY_CONTEXT,
  providers: SteerProviders = defaultProviders,
): Promise<Diagnostic[]> {
  const { document } = documentWithCursor(text);
  const diagnostics = await providers.diagnostics.diagnose(document, context);
  const codes = diagnostics.map((d) => String(d.code));
  if (expectation.codes)
    assert.deepEqual(codes, expectation.codes, diagnostics.map((d) => d.message).join('\n'));
  for (const code of expectation.includes ?? []) {
    assert.ok(
      codes.includes(code),
      `diagnostics of ${JSON.stringify(text)} lack '${code}'; got [${codes.join(', ')}]`,
    );
  }
  return diagnostics;
}
