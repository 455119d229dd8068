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
mkdir -p "$out/wasm" "$out/golden"

# Node itself (the device has none); xz keeps it ~24 MB.
bash "$here/stage-dawn.sh" "$out"

# tfjs-backend-wasm's binaries (AIM_WASM_DIR points the bundles here) and the golden fixtures.
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/wasm/"
cp "$golden"/aim-golden-small.*.safetensors "$out/golden/"

for entry in bench/device/parity.ts bench/bench.ts; do
  bash "$here/bundle.sh" "$model/$entry" "$out/$(basename "$entry" .ts).mjs"
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
    bash "$here/bundle.sh" "$model/bench/device/parity.ts" "$out/parity-$mutation.mjs"
    git checkout -q -- "$model/src/config.ts" "$model/src/ops.ts"
  done
else
  echo "prepare.sh: packages/model/src/config.ts or ops.ts has local changes; not building the mutation bundles" >&2
fi

du -sh "$out"
size_kb=$(du -sk "$out" | cut -f1)
[ "$size_kb" -lt 61440 ] || { echo "prepare.sh: $out is ${size_kb} KiB, over the 60 MiB budget" >&2; exit 1; }
echo "staged $out; on the GPU machine: bash packages/model/bench/device/run.sh (carry [\".device\"])"
