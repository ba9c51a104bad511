// Test helper: a small in-memory FeatureCatalog and PresetStore.
import type { FeatureCatalog, FeatureInfo, PresetStore } from '../../src/index.js';

export const features: FeatureInfo[] = [
  { id: 0, label: 'salary', aliases: ['pay'], typicalActivation: 0.4 },
  { id: 1, label: 'jobs', typicalActivation: 0.2 },
  { id: 2, label: 'learning strategy', aliases: ['learning'] },
  { id: 3, label: 'dead thing', dead: true, typicalActivation: 0.1 },
  { id: 4, label: 'career growth', typicalActivation: 0.5 },
  { id: 5, label: 'career ladder', typicalActivation: 0.25 },
  { id: 6, label: 'twin', aliases: ['dup'] },
  { id: 7, label: 'other twin', aliases: ['dup'] },
];

/** A catalog over `features`; concept search ranks labels by shared words with the query. */
export function memoryCatalog(saeId = 'sae-test', nLatents = 16): FeatureCatalog {
  return {
    nLatents,
    saeId,
    get: (id) => features.find((f) => f.id === id),
    byAliasOrLabel: (name) => features.filter((f) => f.label === name || f.aliases?.includes(name)),
    async searchConcept(text, limit) {
      const words = new Set(text.toLowerCase().split(/\s+/));
      return features
        .map((feature) => ({
          feature,
          score: (feature.label ?? '').split(' ').filter((w) => words.has(w)).length,
        }))
        .filter((m) => m.score > 0)
        .sort((a, b) => b.score - a.score || a.feature.id - b.feature.id)
        .slice(0, limit);
    },
    // 1x = 2 |h|; a typical query of this pretend SAE has |h| = 0.25.
    strengthCalibration: () => ({ scale: 2, typicalQueryNorm: 0.25 }),
  };
}

/** A preset store over a name -> {text, saeId} map. */
export function memoryPresets(entries: Record<string, { text: string; saeId?: string }>): PresetStore {
  return { get: async (name) => entries[name] };
}
