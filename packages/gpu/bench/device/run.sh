#!/usr/bin/env bash
# Runs ON the GPU machine from the repo root with .device-gpu/ (from prepare.sh) carried, within AIM_DEVICE_BUDGET_S
# (8 minutes by default): engine parity on the hardware adapter, the GEMM tile sweep (each tile checked against the
# reference first), the GEMM rate and aim-dev-25M's step without and with Dawn's bounds checks (disable_robustness),
# aim-1B feature extraction at batch 64, the step benchmark with its PyTorch reference for aim-dev-25M, a ViT-B-
# shaped AIM and aim-600M (largest batch that fits), the steps with selective recomputation (no GEMM twice, as eager
# PyTorch) and aim-600M's also with the trainer's default, 'recompute', at the same batch; each step's time per kernel
# (GPU timestamps); then the f16
# subgroup-matrix (tensor core) GEMM path: what the adapter offers under Dawn's toggles, each f16 tile's error and
# rate, the step's shapes, a ViT-B step with the f16 tiles against f32, and a short ViT-B training run with each
# (losses side by side).
# Time plan (AIM_DEVICE_BUDGET_S, default 480 s; 400 leaves time for run-cli.sh in one session): parity at most
# 100 s, then the bench gets what is left of the budget less 110 s (at most 330 s), then the matrix run what is left
# of the budget less 10 s (either skipped under 20 s). Of the bench, the sweep is ~44 candidates x ~0.7 s at 4096^3
# (after their checks: 6 small GEMMs each; bench.ts SQUARE_SECONDS) plus aim-600M's 26 step GEMMs tuned as the
# trainer's --gpu-tiles auto tunes them (the sweep's checks reused, 44 rates on the largest GEMM and 9 on each other,
# ~0.1 s each: ~40 s, its time printed), the bounds-check comparison ~10 s, features ~15 s, the rest steps (at most
# 10 s of timed steps per variant, bench.ts STEP_SECONDS) and PyTorch.
# Rows print as they are measured and the JSON files are rewritten after each table, so a cut run keeps what it
# measured. AIM_DEVICE_MATRIX_FOR (default vit-b=64) is the variant and batch of the matrix run's shapes and step.
# Writes its tables to $OUT (default /tmp/aim-gpu-out). Env: AIM_DEVICE_ALLOW_SOFTWARE=1 rehearses on SwiftShader
# (tiny sizes), AIM_DEVICE_SYSROOT (where the .debs unpack, default /), AIM_DEVICE_PEAK_TFLOPS (default from the
# GPU's name: 67 for the SXM H100 and the H200).
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
gpu_name=""
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
fi
# The fp32 (non-tensor) peak the "of peak" columns divide by: 67 TFLOP/s for the SXM H100 and the H200, less for the
# H100's PCIe and NVL boards.
case "$gpu_name" in
  *H100*PCIe*) default_peak=51 ;;
  *H100*NVL*) default_peak=60 ;;
  *) default_peak=67 ;;
esac
peak=${AIM_DEVICE_PEAK_TFLOPS:-$default_peak}
log "fp32 peak taken as $peak TFLOP/s"

status=0
sw=()
if [ "${AIM_DEVICE_ALLOW_SOFTWARE:-0}" = 1 ]; then
  sw=(--software)
  bench_args=(--variants aim-dev-nano --batch 2 --gemm-n 256 --steps 1 --sweep --shapes-for aim-dev-nano=2 --features-for aim-dev-tiny=4 --torch off
              --bounds-checks both --activations selective,recompute --tiles-out "$results/gemm-tiles.json")
  matrix_args=(--matrix --gemm-n 256 --steps 1 --shapes-for aim-dev-nano=2)
else
  bench_args=(--variants aim-dev-25M,vit-b,aim-600M --batch 32 --batch-for aim-600M=max --steps 3 --sweep
              --shapes-for aim-600M=64 --features-for aim-1B=64 --bounds-checks both --activations selective,recompute --tiles-out "$results/gemm-tiles.json")
  matrix_args=(--matrix --steps 3 --shapes-for "${AIM_DEVICE_MATRIX_FOR:-vit-b=64}")
fi

log "engine parity"
timeout 100 "$node_bin" "$dev/parity.mjs" --golden "$dev/golden" ${sw[@]+"${sw[@]}"} 2>&1 | grep -v '^Warning\|^$' | tee "$results/parity.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

# run_bench NAME LIMIT ARGS...: one bench run, its table in $results/NAME.txt and its JSON in $results/NAME.json.
run_bench() {
  local name=$1 limit=$2
  shift 2
  log "$name (limit ${limit} s): $*"
  timeout "$limit" "$node_bin" "$dev/bench.mjs" "$@" --peak-tflops "$peak" --json "$results/$name.json" ${sw[@]+"${sw[@]}"} 2>&1 \
    | grep -v '^Warning\|^$\|Hi, looks like' | tee "$results/$name.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && log "$name: stopped by its ${limit} s limit; the rows above (and $name.json) are complete measurements"
  [ "$rc" = 0 ] || status=1
}

budget=${AIM_DEVICE_BUDGET_S:-480}
# run_within NAME UNTIL ARGS...: run_bench with what is left until UNTIL s (at most 330 s), or skipped under 20 s.
run_within() {
  local name=$1 left=$(( $2 - ($(date +%s) - start) ))
  shift 2
  [ "$left" -gt 330 ] && left=330
  if [ "$left" -ge 20 ]; then run_bench "$name" "$left" "$@"; else log "$name: skipped ($left s left of the $budget s budget)"; fi
}
run_within bench $(( budget - 110 )) "${bench_args[@]}"
run_within matrix $(( budget - 10 )) "${matrix_args[@]}"
log "done (exit $status)"
exit $status
