#!/usr/bin/env bash
# Stages into <repo>/.device-gpu/ (git-ignored) everything the GPU machine needs to check and benchmark the WebGPU
# engine there, and to run the trainer and the eval app on it: it has Python with PyTorch but no Node and no package
# registry. Run here (Debian, x86-64), then on the device: `bash packages/gpu/bench/device/run.sh` (the engine's checks
# and benchmark) and `bash packages/gpu/bench/device/run-cli.sh` (the CLIs) with carry [".device-gpu"].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="$root/.device-gpu"
cd "$root"
[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: needs an x86-64 machine (the GPU machine is x86-64)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/golden"
bash packages/model/bench/device/stage-dawn.sh "$out"
cp fixtures/golden/aim-golden-small.*.safetensors "$out/golden/"
cp packages/gpu/bench/torch_step.py "$out/"

for entry in packages/gpu/bench/device/parity.ts packages/gpu/bench/bench.ts; do
  bash packages/model/bench/device/bundle.sh "$entry" "$out/$(basename "$entry" .ts).mjs"
done
bash packages/gpu/bench/device/stage-cli.sh "$out"

du -sh "$out"
[ "$(du -sk "$out" | cut -f1)" -lt 61440 ] || { echo "prepare.sh: $out is over the 60 MiB carry budget" >&2; exit 1; }
echo "staged $out; on the GPU machine: bash packages/gpu/bench/device/run.sh, then bash packages/gpu/bench/device/run-cli.sh (carry [\".device-gpu\"])"
