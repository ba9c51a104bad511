// Concept-search variants measured beside the shipped score (issue 12): every fusion of the catalog's signals that
// was tried on bbc-news is re-ranked here from the same match components, so the results file lists them all.
import type { FeatureMatch, MatchComponents } from '@steer/catalog';

/** One way of ranking features from their match components. */
export interface SearchVariant {
  name: string;
  /** The rule, as written in the results file. */
  rule: string;
  /** Scores of `matches` (every feature with a component), same order. */
  score(matches: readonly FeatureMatch[]): number[];
}

type Signal = keyof Omit<MatchComponents, 'alias'>;

const linear =
  (weights: Partial<Record<Signal, number>>) =>
  (matches: readonly FeatureMatch[]): number[] =>
    matches.map((m) =>
      Object.entries(weights).reduce((sum, [signal, w]) => sum + w * m.components[signal as Signal], 0),
    );

/** 1-based ranks of the matches by one signal (matches where it is 0 get none). */
function ranks(matches: readonly FeatureMatch[], signal: Signal): Map<number, number> {
  const order = matches
    .filter((m) => m.components[signal] > 0)
    .sort((a, b) => b.components[signal] - a.components[signal] || a.id - b.id);
  return new Map(order.map((m, i) => [m.id, i + 1]));
}

/** Reciprocal rank fusion (Cormack et al. 2009; k = 60, Elasticsearch's default rank constant). */
const reciprocalRankFusion =
  (signals: Signal[]) =>
  (matches: readonly FeatureMatch[]): number[] => {
    const byRank = signals.map((signal) => ranks(matches, signal));
    return matches.map((m) =>
      byRank.reduce((sum, r) => sum + (r.has(m.id) ? 1 / (60 + r.get(m.id)!) : 0), 0),
    );
  };

/** The variants, the shipped score first. f feedback, t top-document profile, a activation, b cosine, c text. */
export const SEARCH_VARIANTS: readonly SearchVariant[] = [
  {
    name: 'shipped',
    rule: 'f (for a list: mean over the whole text and each item); c only breaks ties (orders the features f does not reach)',
    score: linear({ feedback: 1, lexical: 1e-6 }),
  },
  {
    name: 'whole-text f',
    rule: 'f of the whole description only (a list not split into its items; shipped until the items rule was chosen on the development sets)',
    score: linear({ feedbackWhole: 1, lexical: 1e-6 }),
  },
  {
    name: 'f + c (pre-registered)',
    rule: 'f + c (CombSUM, equal weights): the rule fixed before any measurement',
    score: linear({ feedback: 1, lexical: 1 }),
  },
  {
    name: 'RRF(f, c)',
    rule: 'reciprocal rank fusion of f and c, k = 60',
    score: reciprocalRankFusion(['feedback', 'lexical']),
  },
  {
    name: 'all five',
    rule: 'f + t + a + b + c (CombSUM, equal weights)',
    score: linear({ feedback: 1, documents: 1, activation: 1, cosine: 1, lexical: 1 }),
  },
  {
    name: 'old weights, f for t',
    rule: '0.65 f + 0.05 a + 0.15 b + 0.15 c',
    score: linear({ feedback: 0.65, activation: 0.05, cosine: 0.15, lexical: 0.15 }),
  },
  {
    name: 'previous score',
    rule: '0.65 t + 0.05 a + 0.15 b + 0.15 c (weights chosen on a bbc-news split)',
    score: linear({ documents: 0.65, activation: 0.05, cosine: 0.15, lexical: 0.15 }),
  },
  { name: 't alone', rule: 't', score: linear({ documents: 1 }) },
  { name: 'a alone', rule: 'a', score: linear({ activation: 1 }) },
  { name: 'b alone', rule: 'b', score: linear({ cosine: 1 }) },
  { name: 'c alone', rule: 'c', score: linear({ lexical: 1 }) },
];

/** The `count` best matches of a variant (ties by feature id). */
export function rankByVariant(
  variant: SearchVariant,
  matches: readonly FeatureMatch[],
  count: number,
): FeatureMatch[] {
  const scores = variant.score(matches);
  return matches
    .map((m, i) => ({ m, s: scores[i]! }))
    .filter((x) => x.s > 0)
    .sort((a, b) => b.s - a.s || a.m.id - b.m.id)
    .slice(0, count)
    .map((x) => x.m);
}
