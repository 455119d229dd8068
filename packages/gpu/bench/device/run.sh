#!/usr/bin/env bash
# Runs ON the GPU machine from the repo root with .device-gpu/ (from prepare.sh) carried, in under 8 minutes:
# engine parity on the hardware adapter, the GEMM tile sweep, the step benchmark with its PyTorch reference for
# aim-dev-25M, a ViT-B-shaped AIM and aim-600M (largest batch that fits), and aim-1B feature extraction at batch 64.
# Writes its tables to $OUT (default /tmp/aim-gpu-out). Env: AIM_DEVICE_ALLOW_SOFTWARE=1 rehearses on SwiftShader
# (tiny sizes), AIM_DEVICE_SYSROOT (where the .debs unpack, default /), AIM_DEVICE_PEAK_TFLOPS (default 67, H200).
set -uo pipefail
start=$(date +%s)
dev="$PWD/.device-gpu"
[ -f "$dev/node.xz" ] || { echo "run.sh: $dev/node.xz missing: run prepare.sh here and carry .device-gpu" >&2; exit 1; }
results="${OUT:-/tmp/aim-gpu-out}"
mkdir -p "$results"
log() { echo "[$(( $(date +%s) - start ))s] $*"; }
# The Vulkan loader, glvnd, NVIDIA's ICD, node and dawn.node: the same recipe as the model's device script.
. "$(dirname "$0")/../../../model/bench/device/dawn-env.sh"
log "node $("$node_bin" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

status=0
sw=()
if [ "${AIM_DEVICE_ALLOW_SOFTWARE:-0}" = 1 ]; then
  sw=(--software)
  bench_args=(--variants aim-dev-nano --batch 2 --gemm-n 256 --steps 1 --shapes-for aim-dev-nano=2 --features-for aim-dev-tiny=4 --torch off)
else
  bench_args=(--variants aim-dev-25M,vit-b,aim-600M --batch 32 --batch-for aim-600M=max --steps 3 --sweep
              --shapes-for aim-600M=64 --features-for aim-1B=64)
fi

log "engine parity"
timeout 120 "$node_bin" "$dev/parity.mjs" --golden "$dev/golden" ${sw[@]+"${sw[@]}"} 2>&1 | grep -v '^Warning\|^$' | tee "$results/parity.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

log "bench: ${bench_args[*]}"
timeout 380 "$node_bin" "$dev/bench.mjs" "${bench_args[@]}" --peak-tflops "${AIM_DEVICE_PEAK_TFLOPS:-67}" --json "$results/bench.json" ${sw[@]+"${sw[@]}"} 2>&1 \
  | grep -v '^Warning\|^$\|Hi, looks like' | tee "$results/bench.txt"
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && log "bench: stopped by its 380 s limit; the rows above are complete measurements"
[ "$rc" = 0 ] || status=1
log "done (exit $status)"
exit $status
