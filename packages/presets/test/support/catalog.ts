// Test helper: a small in-memory FeatureCatalog for preset tests.
import type { FeatureCatalog, FeatureInfo } from '@steer/grammar';

const features: FeatureInfo[] = [
  { id: 0, label: 'salary', typicalActivation: 0.4 },
  { id: 1, label: 'jobs', typicalActivation: 0.2 },
  { id: 2, label: 'remote work', aliases: ['remote'], typicalActivation: 0.3 },
];

/** A catalog of three labelled features; `saeId` names the SAE it stands for. */
export function testCatalog(saeId = 'sae-a'): FeatureCatalog {
  return {
    nLatents: 8,
    saeId,
    get: (id) => features.find((f) => f.id === id),
    byAliasOrLabel: (name) => features.filter((f) => f.label === name || f.aliases?.includes(name)),
    searchConcept: async (text, limit) =>
      features
        .filter((f) => f.label?.includes(text))
        .slice(0, limit)
        .map((feature) => ({ feature, score: 1 })),
  };
}
