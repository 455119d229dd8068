#!/usr/bin/env bash
# stage-cli.sh <out>: stages <out>/cli.tar.xz, trainer:train and eval:probe as a user runs them, for the GPU machine
# (run-cli.sh unpacks and runs it): bundles of both commands with their threads' modules beside them (the loader thread
# and the decode pool look for loader-worker.js and worker.js next to their own module), the packages they load at run
# time and cannot be bundled (sharp with its libvips, piscina with its worker script), the loader's wasm kernels, the
# one-device Vulkan layer, and the first 2,000 MNIST images of each split as WebDataset shards. Run from the repository root after `npm ci`.
set -euo pipefail
out="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cli="$tmp/cli"
mkdir -p "$cli/bin/node_modules/@img" "$cli/wasm"
bundle() { bash packages/model/bench/device/bundle.sh "$1" "$cli/bin/$2" --external:sharp --external:piscina; }
bundle apps/trainer/src/main.ts trainer.mjs
bundle apps/eval/src/main-probe.ts probe.mjs
bundle packages/train/src/loader-worker.ts loader-worker.js
bundle packages/data/src/worker.ts worker.js
# The loader's kernels module reads ../wasm/kernels.wasm from where it lies (in a bundle: bin/).
[ -f packages/data/wasm/kernels.wasm ] || npm run wasm -w @aim/data >/dev/null
cp packages/data/wasm/kernels.wasm "$cli/wasm/"
# @aim/vulkan-device looks for its built layer in ../build from its module (in a bundle: bin/).
mkdir -p "$cli/build"
cp packages/vulkan-device/build/libVkLayer_aim_one_device.so packages/vulkan-device/build/VkLayer_aim_one_device.json "$cli/build/" ||
  { echo "stage-cli.sh: the one-device Vulkan layer is not built: npm rebuild @aim/vulkan-device" >&2; exit 1; }
for p in sharp piscina detect-libc semver @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64; do
  cp -r "node_modules/$p" "$cli/bin/node_modules/$p"
done
node --conditions=@aim/source --import tsx --input-type=module -e "
  import { prepareMnist } from '@aim/shards';
  await prepareMnist('$cli/data', () => {}, { limit: 2000 });"
tar -C "$tmp" -cf - cli | xz -T0 -6 > "$out/cli.tar.xz"
