// HTML of the webviews: query results side by side (steered and unsteered, rank changes, top features) and
// a feature explanation. Pure functions of the server's answers, so they need no VS Code API.
import type { ExplainFeatureResult, RunQueryHit, RunQueryResult } from '@steer/language-server/protocol';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function page(title: string, body: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'unsafe-inline';">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
ol { padding-left: 1.5em; } li { margin-bottom: 0.8em; }
.id { font-family: var(--vscode-editor-font-family); opacity: 0.8; }
.up { color: var(--vscode-charts-green); } .down { color: var(--vscode-charts-red); } .new { color: var(--vscode-charts-blue); }
.features { font-size: 0.9em; opacity: 0.85; } .warn { color: var(--vscode-editorWarning-foreground); }
code { font-family: var(--vscode-editor-font-family); }
</style></head><body>${body}</body></html>`;
}

/** The rank change of a steered hit: ▲3, ▼2, = or new. */
export function rankChange(hit: RunQueryHit): { text: string; className: string } {
  if (hit.moved === null || hit.moved === undefined) return { text: 'new', className: 'new' };
  if (hit.moved > 0) return { text: `▲${hit.moved}`, className: 'up' };
  if (hit.moved < 0) return { text: `▼${-hit.moved}`, className: 'down' };
  return { text: '=', className: '' };
}

function hitItem(hit: RunQueryHit, steered: boolean): string {
  const change = steered
    ? rankChange(hit)
    : hit.otherRank === null
      ? { text: 'dropped', className: 'down' }
      : undefined;
  const features = hit.features
    .map((f) => `f${f.feature}${f.label ? ` ${escapeHtml(f.label)}` : ''} (${f.contribution.toFixed(3)})`)
    .join(', ');
  return `<li><span class="id">${escapeHtml(hit.id)}</span> · ${hit.score.toFixed(4)}${
    change ? ` <span class="${change.className}">${change.text}</span>` : ''
  }<br>${escapeHtml(hit.text)}${features ? `<div class="features">features: ${features}</div>` : ''}</li>`;
}

/** The results view of `steer/runQuery`. */
export function renderResultsHtml(result: RunQueryResult, cspSource: string): string {
  const edits = result.edits
    .map(
      (e) =>
        `f${e.feature}${e.label ? ` (${escapeHtml(e.label)})` : ''} ${e.op}${e.op === 'zero' ? '' : ` ${e.value.toFixed(3)}`}`,
    )
    .join('; ');
  const warnings = result.warnings.map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join('');
  const body = `<h2><code>${escapeHtml(result.query)}</code></h2>
<p>index <code>${escapeHtml(result.index)}</code> on ${escapeHtml(result.backend)}, top ${result.k}${edits ? ` · edits: ${edits}` : ''}</p>${warnings}
<div class="columns">
<section><h3>Steered</h3><ol>${result.steered.map((h) => hitItem(h, true)).join('')}</ol></section>
<section><h3>Unsteered</h3><ol>${result.unsteered.map((h) => hitItem(h, false)).join('')}</ol></section>
</div>`;
  return page('Steer results', body, cspSource);
}

/** The view of `steer/explainFeature`. */
export function renderFeatureHtml(feature: ExplainFeatureResult, cspSource: string): string {
  const stats = feature.stats;
  const body = `<h2>f${feature.feature}${feature.label ? ` — ${escapeHtml(feature.label)}` : ''}${feature.dead ? ' (dead)' : ''}</h2>
${feature.aliases.length ? `<p>aliases: ${feature.aliases.map((a) => `<code>@${escapeHtml(a)}</code>`).join(', ')}</p>` : ''}
${feature.keywords.length ? `<p>keywords: ${escapeHtml(feature.keywords.join(', '))}</p>` : ''}
${stats ? `<p>active in ${stats.count} documents (${(stats.frequency * 100).toFixed(2)}%), mean ${stats.meanActivation.toFixed(3)}, p99 ${stats.p99Activation.toFixed(3)}, typical ${stats.typicalActivation.toFixed(3)}</p>` : ''}
<h3>Top documents</h3><ol>${feature.topDocuments
    .map(
      (d) =>
        `<li><span class="id">${escapeHtml(d.id)}</span> · ${d.activation.toFixed(3)}<br>${escapeHtml(d.snippet)}</li>`,
    )
    .join('')}</ol>`;
  return page(`Steer f${feature.feature}`, body, cspSource);
}
