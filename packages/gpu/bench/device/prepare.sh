#!/usr/bin/env bash
# Stages into <repo>/.device-gpu/ (git-ignored) everything the GPU machine needs to check and benchmark the WebGPU
# engine there: it has Python with PyTorch but no Node and no package registry. Run here (Debian, x86-64), then on the
# device: `bash packages/gpu/bench/device/run.sh` with carry [".device-gpu"].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="$root/.device-gpu"
cd "$root"
[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: needs an x86-64 machine (the GPU machine is x86-64)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/debs/x11" "$out/golden"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn.node.xz"
# The Vulkan loader and glvnd libraries Dawn needs on NVIDIA Linux; libGLX_nvidia also needs libX11 (unpacked only where absent).
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
(cd "$out/debs" && apt-get "${apt_opts[@]}" download libvulkan1 libglvnd0 libglx0 libegl1 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
(cd "$out/debs/x11" && apt-get "${apt_opts[@]}" download libx11-6 libxcb1 libxau6 libxdmcp6 libxext6 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
ls "$out"/debs/*.deb >/dev/null
cp fixtures/golden/aim-golden-small.*.safetensors "$out/golden/"
cp packages/gpu/bench/torch_step.py "$out/"

# Self-contained ESM bundles (dawn.node is loaded at run time from <bundle dir>/dist/linux-x64/).
banner="import { createRequire as __aimCreateRequire } from 'node:module'; import { fileURLToPath as __aimFileURLToPath } from 'node:url'; import { dirname as __aimDirname } from 'node:path'; const require = __aimCreateRequire(import.meta.url); var __filename = __aimFileURLToPath(import.meta.url); var __dirname = __aimDirname(__filename);"
for entry in packages/gpu/bench/device/parity.ts packages/gpu/bench/bench.ts; do
  npx esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --conditions=@aim/source \
    --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
    --ignore-annotations --log-level=error --banner:js="$banner" --outfile="$out/$(basename "$entry" .ts).mjs"
done

du -sh "$out"
[ "$(du -sk "$out" | cut -f1)" -lt 61440 ] || { echo "prepare.sh: $out is over the 60 MiB carry budget" >&2; exit 1; }
echo "staged $out; on the GPU machine: bash packages/gpu/bench/device/run.sh (carry [\".device-gpu\"])"
