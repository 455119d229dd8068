#!/usr/bin/env bash
# Stages into <repo>/.device/ (git-ignored) everything the GPU machine needs to run the WebGPU parity check and the
# model bench: it has no Node and no package registry. Run here (Debian, x86-64), then on the device run
# `bash packages/model/bench/device/run.sh` with carry [".device"]. Usage: bash packages/model/bench/device/prepare.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
model="$root/packages/model"
out="$root/.device"
golden="${AIM_GOLDEN_DIR:-$root/fixtures/golden}"
cd "$root"

[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: needs an x86-64 machine (the GPU machine is x86-64)" >&2; exit 1; }
for f in "$golden/aim-golden-small.io.safetensors" "$golden/aim-golden-small.weights.safetensors"; do
  [ -f "$f" ] || { echo "prepare.sh: golden fixture missing: $f (set AIM_GOLDEN_DIR)" >&2; exit 1; }
done

rm -rf "$out"
mkdir -p "$out/debs" "$out/wasm" "$out/golden"

# Node itself (the device has none); xz keeps it ~24 MB.
echo "node $(node --version) -> node.xz"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"

# Dawn's native binding: the bundles load it from <bundle dir>/dist/linux-x64/dawn.node, which run.sh unpacks.
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"

# The Vulkan loader and glvnd libraries Dawn needs on NVIDIA Linux (amd64 .debs from this machine's Debian).
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
(cd "$out/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
# libGLX (NVIDIA's Vulkan ICD lives in libGLX_nvidia) needs libX11; run.sh unpacks these only where missing.
mkdir -p "$out/debs/x11"
(cd "$out/debs/x11" && apt-get "${apt_opts[@]}" download libx11-6 libxcb1 libxau6 libxdmcp6 libxext6 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$out"/debs/*.deb >/dev/null

# tfjs-backend-wasm's binaries (AIM_WASM_DIR points the bundles here) and the golden fixtures.
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/wasm/"
cp "$golden"/aim-golden-small.*.safetensors "$out/golden/"

# Self-contained ESM bundles: everything but dawn.node (loaded at run time by path) and the optional tfjs-node peers.
banner="import { createRequire as __aimCreateRequire } from 'node:module'; import { fileURLToPath as __aimFileURLToPath } from 'node:url'; import { dirname as __aimDirname } from 'node:path'; const require = __aimCreateRequire(import.meta.url); const __filename = __aimFileURLToPath(import.meta.url); const __dirname = __aimDirname(__filename);"
for entry in bench/device/parity.ts bench/bench.ts; do
  name="$(basename "$entry" .ts)"
  npx esbuild "$model/$entry" --bundle --platform=node --format=esm --target=node20 \
    --conditions=@aim/source --ignore-annotations --log-level=error \
    --banner:js="$banner" --outfile="$out/$name.mjs"
done

# The same parity check built from two departures from the spec (test/spec-mutations.sh applies the same edits):
# run.sh expects both to fail on the device's webgpu and wasm. The sources are restored right after each build.
if git diff --quiet -- "$model/src/config.ts" "$model/src/ops.ts"; then
  trap 'git checkout -q -- "$model/src/config.ts" "$model/src/ops.ts"' EXIT
  for mutation in ln-eps tanh-gelu; do
    case $mutation in
      ln-eps) sed -i 's/export const LAYER_NORM_EPS = 1e-6;/export const LAYER_NORM_EPS = 1e-5;/' "$model/src/config.ts" ;;
      tanh-gelu) sed -i 's|tf.erf(tf.mul(xt, INV_SQRT2))|tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(xt, tf.mul(0.044715, tf.pow(xt, 3)))))|' "$model/src/ops.ts" ;;
    esac
    git diff --quiet -- "$model/src/config.ts" "$model/src/ops.ts" && { echo "prepare.sh: mutation $mutation did not apply" >&2; exit 1; }
    npx esbuild "$model/bench/device/parity.ts" --bundle --platform=node --format=esm --target=node20 \
      --conditions=@aim/source --ignore-annotations --log-level=error \
      --banner:js="$banner" --outfile="$out/parity-$mutation.mjs"
    git checkout -q -- "$model/src/config.ts" "$model/src/ops.ts"
  done
else
  echo "prepare.sh: packages/model/src/config.ts or ops.ts has local changes; not building the mutation bundles" >&2
fi

du -sh "$out"
size_kb=$(du -sk "$out" | cut -f1)
[ "$size_kb" -lt 61440 ] || { echo "prepare.sh: $out is ${size_kb} KiB, over the 60 MiB budget" >&2; exit 1; }
echo "staged $out; on the GPU machine: bash packages/model/bench/device/run.sh (carry [\".device\"])"
