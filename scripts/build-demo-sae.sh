#!/usr/bin/env bash
# Reproduces the demo SAE checked in at packages/cli/demo/sae: embeds the demo corpus with the default
# embedder (through the embedding cache), trains the SAE on it, then builds its feature catalog.
# Run with `npm run demo:sae`.
set -euo pipefail
cd "$(dirname "$0")/.."
steer="node packages/cli/dist/src/main.js"
out=packages/cli/demo/sae
corpus=packages/cli/demo/corpus.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$steer embed "$corpus" --out "$work/demo.npy"
rm -rf "$out"
# The default recipe (packages/train/RECIPE.md) derives 512 latents and 100 epochs from the 341 passages; small
# batches and a longer patience suit a corpus this small. The embedder's id and version come from demo.npy.model.json.
$steer train --embeddings "$work/demo.npy" --k 8 --patience 20 --batch 64 --backend wasm --seed 1 \
  --out "$out" --state-dir "$work/state"
$steer label --sae "$out" --corpus "$corpus"
rm -f "$out"/.steer-encoder-*.onnx
