#!/usr/bin/env bash
# Runs ON the GPU machine from the repo root, with .device/ (from prepare.sh) carried: WebGPU golden parity and the
# model bench on the NVIDIA GPU through Dawn's Vulkan backend. Prints compact tables; copies them into $OUT if set.
# Whole run: under ~6 minutes. Env: VK_DRIVER_FILES (default NVIDIA's ICD), AIM_DEVICE_ALLOW_SOFTWARE=1 (local
# SwiftShader rehearsal: accept a software adapter), AIM_DEVICE_BUDGET_S (bench time budget, default 210),
# AIM_DEVICE_VARIANTS, AIM_DEVICE_BATCH, AIM_DEVICE_MATMUL_N, AIM_DEVICE_BATCH_FOR, AIM_DEVICE_SYSROOT (where the .debs unpack, default /).
set -uo pipefail
start=$(date +%s)
dev="$PWD/.device"
[ -f "$dev/node.xz" ] || { echo "run.sh: $dev/node.xz missing: run prepare.sh here and carry .device" >&2; exit 1; }
results="${OUT:-/tmp/aim-device-out}"
mkdir -p "$results"
log() { echo "[$(( $(date +%s) - start ))s] $*"; }

# The Vulkan loader, glvnd, NVIDIA's ICD, node and dawn.node (see dawn-env.sh).
. "$(dirname "$0")/dawn-env.sh"
export AIM_WASM_DIR="$dev/wasm"
log "node $("$node_bin" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

sw=()
[ "${AIM_DEVICE_ALLOW_SOFTWARE:-0}" = 1 ] && sw=(--webgpu-software)
status=0

log "golden parity (webgpu, wasm)"
timeout 120 "$node_bin" "$dev/parity.mjs" --golden "$dev/golden" --backends webgpu,wasm ${sw[@]+"${sw[@]}"} 2>&1 \
  | grep -v 'Hi, looks like\|tfjs-node\|^=*$\|^$' | tee "$results/parity.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

# The gates must catch the spec's two known mutations on this device too (bundles from prepare.sh).
for mutation in ln-eps tanh-gelu; do
  [ -f "$dev/parity-$mutation.mjs" ] || continue
  log "golden parity with mutation $mutation (must fail)"
  timeout 120 "$node_bin" "$dev/parity-$mutation.mjs" --golden "$dev/golden" --backends webgpu,wasm ${sw[@]+"${sw[@]}"} 2>&1 \
    | grep -v 'Hi, looks like\|tfjs-node\|^=*$\|^$' | tee "$results/parity-$mutation.txt"
  if [ "${PIPESTATUS[0]}" = 1 ]; then log "mutation $mutation: caught"; else log "mutation $mutation: NOT caught"; status=1; fi
done

budget="${AIM_DEVICE_BUDGET_S:-210}"
variants="${AIM_DEVICE_VARIANTS:-aim-dev-tiny,aim-dev-5M,aim-dev-25M,aim-600M}"
batch_for="${AIM_DEVICE_BATCH_FOR:-aim-600M=8}"
log "bench: webgpu step, $variants (budget ${budget}s)"
timeout $((budget + 60)) "$node_bin" "$dev/bench.mjs" --backends webgpu --variants "$variants" --batch "${AIM_DEVICE_BATCH:-32}" --matmul-n "${AIM_DEVICE_MATMUL_N:-4096}" \
  --batch-for "$batch_for" --steps 3 --budget-s "$budget" --json "$results/bench-webgpu.json" ${sw[@]+"${sw[@]}"} 2>&1 \
  | grep -v 'Hi, looks like\|tfjs-node\|^=*$\|^$\|synchronously reading' | tee "$results/bench-webgpu.txt"
rc=${PIPESTATUS[0]}
[ "$rc" = 124 ] && log "bench: stopped by the $((budget + 60))s limit; the rows printed above are complete measurements"
[ "$rc" = 0 ] || status=1

# Forward-only rows for the larger paper variants, if the time is there (each creates ~1-2B parameters).
fwd_variants="${AIM_DEVICE_FORWARD_VARIANTS-aim-1B}" # set it empty to skip this phase
if [ -n "$fwd_variants" ] && [ $(( $(date +%s) - start )) -lt 240 ]; then
  log "bench: webgpu forward, $fwd_variants at batch 8 (budget 60s)"
  timeout 120 "$node_bin" "$dev/bench.mjs" --backends webgpu --variants "$fwd_variants" --batch 8 --mode forward \
    --matmul-n "${AIM_DEVICE_MATMUL_N:-4096}" --steps 3 --budget-s 60 --json "$results/bench-webgpu-forward.json" ${sw[@]+"${sw[@]}"} 2>&1 \
    | grep -v 'Hi, looks like\|tfjs-node\|^=*$\|^$\|synchronously reading' | tee "$results/bench-webgpu-forward.txt"
  [ "${PIPESTATUS[0]}" = 124 ] && log "forward bench: stopped by its 120s limit"
fi

log "done (exit $status)"
exit $status
