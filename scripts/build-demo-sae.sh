#!/usr/bin/env bash
# Reproduces the demo SAE checked in at packages/cli/demo/sae: trains it on the demo corpus with the default
# embedder (through the embedding cache), then builds its feature catalog. Run with `npm run demo:sae`.
set -euo pipefail
cd "$(dirname "$0")/.."
steer="node packages/cli/dist/src/main.js"
out=packages/cli/demo/sae
corpus=packages/cli/demo/corpus.jsonl
rm -rf "$out" "$out.train"
$steer train --corpus "$corpus" --latents 512 --k 8 --epochs 40 --batch 64 --backend wasm --seed 1 --out "$out"
rm -rf "$out.train"
$steer label --sae "$out" --corpus "$corpus"
