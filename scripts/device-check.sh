#!/usr/bin/env bash
# GPU check of @steer/train and the SAE runtime on a lent GPU machine (NVIDIA H100, no internet, no Node.js,
# nothing but this repository and the carried paths). Two modes:
#
#   scripts/device-check.sh pack   (here, with the network) builds what must travel into two ignored folders:
#     .device/bundle.tar.xz  the node binary, the built dist/ of our packages, and exactly the node_modules files
#                            a local run of the check loaded (recorded by CJS + ESM loader hooks), plus the
#                            linux-x64 native parts of `webgpu` (Dawn) and onnxruntime-node;
#     .gl/*.deb              the Vulkan loader and GL dispatch libraries from Debian (the device image has no
#                            libvulkan.so.1; Dawn needs it to reach the NVIDIA Vulkan driver, which the image's
#                            driver mount provides as /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json).
#     Everything that travels must stay under 64 MiB; pack checks it.
#
#   scripts/device-check.sh [run]  (there, as the device command, with carry [".device", ".gl"]):
#     unpacks the .debs into / and the bundle into the checkout, points Vulkan at the NVIDIA driver when no ICD is
#     registered, then runs packages/train/dist/bench/gpu-check.js: trains a fixed number of steps (d 768,
#     n 32,768, k 32, 56 queries x 9 rows, MSE + KL) on each backend that starts (cuda, webgpu, wasm) printing
#     steps/s and the ratio to wasm on the same machine, then batch-encodes 8,192 vectors with the SAE runtime's
#     WebGPU provider and its CPU provider (time and top-k agreement). Results: $OUT/device-check.json, log
#     $OUT/device-check.log.
#
# CUDA: @tensorflow/tfjs-node-gpu 4.22 wraps libtensorflow 2.9 built for CUDA 11.2 / cuDNN 8.1; its install script
# downloads that library, which cannot happen there (no network) and does not run here. The check therefore
# reports cuda as unavailable unless a prepared node_modules/@tensorflow/tfjs-node-gpu with its binding is carried.
#
# NOTE: written without a GPU machine to run it on (the task that wrote it had none): it was run here only in its
# pack mode and with `run --small` on the CPU, where webgpu and cuda report themselves unavailable.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-run}

pack() {
  set -e
  npx tsc -b packages/train packages/sae
  rm -rf .device && mkdir -p .device
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
  local trace=.device/trace.txt
  : >"$trace"
  # Record every file the check loads: CommonJS through Module._resolveFilename, ES modules through a resolve hook.
  cat >.device/cjs-hook.cjs <<EOF
const Module = require('module'); const fs = require('fs');
const original = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = original.apply(this, args);
  if (typeof file === 'string' && file.startsWith('/')) fs.appendFileSync('$ROOT/$trace', file + '\n');
  return file;
};
EOF
  cat >.device/esm-hook.mjs <<EOF
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.startsWith('file://')) appendFileSync('$ROOT/$trace', new URL(result.url).pathname + '\n');
  return result;
}
EOF
  cat >.device/register.mjs <<EOF
import { register } from 'node:module';
register('./esm-hook.mjs', import.meta.url);
EOF
  node -r ./.device/cjs-hook.cjs --import ./.device/register.mjs packages/train/dist/bench/gpu-check.js --small
  # Files under node_modules and our dist folders, with the package.json of every package they belong to.
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    const files = new Set();
    for (const line of fs.readFileSync(".device/trace.txt", "utf8").split("\n")) {
      if (!line) continue;
      const real = fs.realpathSync(line);
      if (!real.startsWith(root + "/")) continue;
      const rel = path.relative(root, real);
      if (!rel.startsWith("node_modules/") && !/^packages\/[^/]+\/dist\//.test(rel)) continue;
      files.add(rel);
      for (let dir = path.dirname(rel); dir !== "."; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "package.json"))) files.add(path.join(dir, "package.json"));
        const parent = path.basename(path.dirname(dir));
        if (parent === "node_modules" || (parent.startsWith("@") && path.basename(path.dirname(path.dirname(dir))) === "node_modules")) break;
      }
    }
    // Loaded by the dynamic linker or by ESM code outside the hooks: take these folders whole.
    const walk = (dir) => fs.existsSync(dir) && fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p); else files.add(p);
    });
    walk("node_modules/webgpu/dist/linux-x64");
    for (const f of ["node_modules/webgpu/package.json", "node_modules/webgpu/index.js"]) if (fs.existsSync(f)) files.add(f);
    walk("node_modules/onnxruntime-node/bin/napi-v6/linux/x64");
    // WebAssembly binaries are read with fs, not required.
    for (const f of fs.readdirSync("node_modules/@tensorflow/tfjs-backend-wasm/dist")) {
      if (f.endsWith(".wasm")) files.add(path.join("node_modules/@tensorflow/tfjs-backend-wasm/dist", f));
    }
    // The WebGPU backend of TF.js loads only where an adapter exists, so a CPU-only trace never sees it.
    for (const f of ["node_modules/@tensorflow/tfjs-backend-webgpu/package.json", "node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js"]) files.add(f);
    for (const pkg of ["train", "sae", "onnx", "embed"]) walk(path.join("packages", pkg, "dist"));
    // Our workspace links, kept as symbolic links.
    for (const name of fs.readdirSync("node_modules/@steer")) files.add(path.join("node_modules/@steer", name));
    fs.writeFileSync(".device/files.txt", [...files].filter((f) => !f.endsWith(".map") && !f.endsWith(".d.ts")).sort().join("\n") + "\n");
  ' "$ROOT"
  if [ -n "${DEVICE_CHECK_LIST_ONLY:-}" ]; then return; fi # stop at .device/files.txt (to test the file list)
  mkdir -p .device/bin && cp "$(command -v node)" .device/bin/node
  echo ".device/bin/node" >>.device/files.txt
  tar -cf - -T .device/files.txt | xz -T2 -6 >.device/bundle.tar.xz
  rm -rf .device/bin .device/trace.txt .device/*.cjs .device/*.mjs
  # Vulkan loader and GL dispatch libraries, as the device README prescribes.
  grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude
  mkdir -p .gl /tmp/amd64/partial
  local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  local tracked
  tracked=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  local carried
  carried=$(du -cb .device .gl | tail -1 | cut -f1)
  echo "device-check pack: bundle $(du -h .device/bundle.tar.xz | cut -f1), .gl $(du -sh .gl | cut -f1); travelling total $(((tracked + carried) / 1048576)) MiB of 64"
  if ((tracked + carried > 64 * 1048576)); then
    echo "device-check pack: over the 64 MiB that may travel; trim .device/files.txt" >&2
    exit 1
  fi
  echo "device-check pack: now run on the device: command 'bash scripts/device-check.sh run', carry ['.device', '.gl'], timeout_s 560"
}

run() {
  local out=${OUT:-$ROOT/bench-out}
  mkdir -p "$out"
  shift || true
  # DEVICE_CHECK_NO_GL=1 skips unpacking the .debs into / (for a dry run on a machine that is not lent).
  if [ -z "${DEVICE_CHECK_NO_GL:-}" ] && ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && compgen -G '.gl/*.deb' >/dev/null; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1 &&
    [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  if [ -f .device/bundle.tar.xz ]; then
    xz -dc .device/bundle.tar.xz | tar -xf - -C "$ROOT"
  fi
  local node=.device/bin/node
  [ -x "$node" ] || node=$(command -v node)
  if [ -z "$node" ]; then
    echo "device-check: no node binary: run 'scripts/device-check.sh pack' here and carry .device" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/device-check: GPU /'
  echo "device-check: node $("$node" --version), vulkan ICD ${VK_DRIVER_FILES:-system}"
  timeout 540 "$node" packages/train/dist/bench/gpu-check.js --out "$out" "$@" 2>&1 | tee "$out/device-check.log"
}

case "$MODE" in
  pack) pack ;;
  run) run "$@" ;;
  *)
    echo "usage: scripts/device-check.sh pack | run [--small]" >&2
    exit 2
    ;;
esac
