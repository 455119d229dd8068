#!/usr/bin/env bash
# Runs ON the GPU machine from the repo root with .device-gpu/ (from prepare.sh) carried, in at most about 5.5 minutes
# (after `AIM_DEVICE_BUDGET_S=400 bash packages/gpu/bench/device/run.sh`, both fit one session's 15 minutes):
# the trainer and the eval app as a user runs them (stage-cli.sh's bundles), on the GPU:
#   1. trainer:train, aim-dev-25M, 100 steps of 64 MNIST images at 64 px, --backend auto (which must pick the WebGPU
#      engine on a GPU) and --gpu-tiles auto (which tunes the model's GEMMs there and keeps them);
#   2. trainer:train, aim-600M, 12 steps at batch 64 and 224 px: the paper's smallest variant through the whole
#      pipeline (shards, decoding and resizing in the worker pool, the engine, a 13 GB checkpoint), with the tiles of
#      run.sh's sweep when that ran first ($OUT/gemm-tiles.json) and the default --activations auto (nvidia-smi's
#      free memory picks the mode: selective on an 80 GB GPU, keep on a 141 GB one);
#   3. eval:probe on run 1 with --gpu-tiles auto (the trunk's GEMMs come from the file run 1 kept);
#   4. one trainer step under @aim/vulkan-device's one-device layer, asked for device 1 as the second rank of a
#      machine asks: on a one-GPU machine the layer must show it GPU 0 of 1 ($OUT/vulkan-device.txt: "0 1") and the
#      engine must run there, as without the layer.
# Each command's output goes to $OUT/cli-<name>.txt (default OUT /tmp/aim-gpu-out). AIM_DEVICE_ALLOW_SOFTWARE=1
# rehearses it on SwiftShader with the development variants; AIM_DEVICE_SYSROOT as in run.sh.
set -uo pipefail
start=$(date +%s)
dev="$PWD/.device-gpu"
[ -f "$dev/cli.tar.xz" ] || { echo "run-cli.sh: $dev/cli.tar.xz missing: run prepare.sh here and carry .device-gpu" >&2; exit 1; }
results="${OUT:-/tmp/aim-gpu-out}"
mkdir -p "$results"
log() { echo "[$(( $(date +%s) - start ))s] $*"; }
. "$(dirname "$0")/../../../model/bench/device/dawn-env.sh"
work=/tmp/aim-cli
rm -rf "$work" && mkdir -p "$work"
unxz_to "$dev/cli.tar.xz" "$work/cli.tar" && tar -C "$work" -xf "$work/cli.tar" && rm "$work/cli.tar"
# The bundles' `webgpu` loads dawn.node from dist/linux-x64/ beside them; dawn-env.sh unpacked it into $dev/dist.
ln -s "$dev/dist" "$work/cli/bin/dist"
data="$work/cli/data/v2-first2000"
log "node $("$node_bin" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"

status=0
# cli NAME LIMIT ENTRY ARGS...: one command, its output (less the config it echoes) in $results/cli-NAME.txt.
cli() {
  local name=$1 limit=$2 entry=$3
  shift 3
  log "$name (limit ${limit} s): $entry $*"
  timeout "$limit" "$node_bin" "$work/cli/bin/$entry" "$@" 2>&1 | grep -v '^Warning\|^$' | tee "$results/cli-$name.txt" | grep -v '^  "'
  local rc=${PIPESTATUS[0]}
  log "$name: exit $rc"
  [ "$rc" = 0 ] || status=1
}

if [ "${AIM_DEVICE_ALLOW_SOFTWARE:-0}" = 1 ]; then
  small=(--variant aim-dev-nano --batch-size 4 --steps 3 --save-every 3 --log-every 1)
  large=(--variant aim-dev-tiny --batch-size 4 --steps 2 --save-every 2 --log-every 1)
  probe_limits=(--train-limit 200 --test-limit 100) # 1,000 + 500 photos passed the 60 s limit on a 2-core machine
  backend=webgpu # auto never picks a software adapter
else
  small=(--variant aim-dev-25M --batch-size 64 --steps 100 --save-every 100 --log-every 20)
  large=(--variant aim-600M --batch-size 64 --steps 12 --save-every 12 --log-every 2)
  probe_limits=(--train-limit 1000 --test-limit 500)
  backend=auto
fi
data_flags=(--data "$data/train-000000.tar" --val-data "$data/val-000000.tar" --val-batches 1 --cache-dir "$work/cache")
cli train-small 120 trainer.mjs "${small[@]}" "${data_flags[@]}" --backend "$backend" --gpu-tiles auto --out "$work/runs/small"
tiles=()
[ -f "$results/gemm-tiles.json" ] && [ "${AIM_DEVICE_ALLOW_SOFTWARE:-0}" != 1 ] && tiles=(--gpu-tiles "$results/gemm-tiles.json")
cli train-large 150 trainer.mjs "${large[@]}" "${data_flags[@]}" --backend "$backend" ${tiles[@]+"${tiles[@]}"} --out "$work/runs/large"
cli probe 60 probe.mjs --checkpoint "$work/runs/small" --train "$data/train-000000.tar" --test "$data/val-000000.tar" \
  "${probe_limits[@]}" --no-sweep --no-baselines --backend "$backend" --gpu-tiles auto --cache-dir "$work/cache" --out "$work/probe"
rm -f "$results/vulkan-device.txt"
VK_ADD_LAYER_PATH="$work/cli/build" VK_INSTANCE_LAYERS=VK_LAYER_AIM_one_device AIM_VK_DEVICE_INDEX=1 AIM_VK_DEVICE_REPORT="$results/vulkan-device.txt" \
  cli vulkan-device 60 trainer.mjs --preset smoke --variant aim-dev-nano --steps 1 --no-val "${data_flags[@]:0:2}" --backend "$backend" --out "$work/runs/layer"
log "vulkan-device: the layer showed device (index count): $(cat "$results/vulkan-device.txt" 2>/dev/null || echo 'nothing: it did not run')"
log "done (exit $status)"
exit $status
