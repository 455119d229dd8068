#!/usr/bin/env bash
# Checks that the golden parity gates catch two departures from the spec on every backend under test:
#   ln-eps     LayerNorm eps 1e-5 instead of apple/ml-aim's 1e-6
#   tanh-gelu  tanh-approximate GELU instead of the exact erf one
# Each mutation is applied to the source, golden-parity.test.ts runs, and the source is restored. The script
# fails unless every backend's describe block has failing tests under each mutation (and none fail unmutated).
# Usage (from packages/model): bash test/spec-mutations.sh  (VK_DRIVER_FILES as for the tests, for webgpu).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git diff --quiet -- src/config.ts src/ops.ts; then echo "src/config.ts or src/ops.ts has local changes; refusing" >&2; exit 2; fi
restore() { git checkout -q -- src/config.ts src/ops.ts; }
trap restore EXIT
report=$(mktemp)

# Prints "<backend> <failed> <total>" per describe block of golden-parity.test.ts from a vitest JSON report.
summarise() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const by = new Map();
    for (const f of r.testResults) for (const t of f.assertionResults) {
      const m = /golden parity on (\w+)/.exec(t.ancestorTitles[0] ?? "");
      if (!m) continue;
      const e = by.get(m[1]) ?? [0, 0];
      e[1]++; if (t.status === "failed") e[0]++;
      by.set(m[1], e);
    }
    for (const [b, [f, n]] of by) console.log(b, f, n);' "$1"
}

run() { npx vitest run test/golden-parity.test.ts --reporter=json --outputFile="$report" >/dev/null 2>&1 || true; summarise "$report"; }

status=0
echo "== unmutated"
out=$(run); echo "$out"
if [ -z "$out" ] || awk '$2 != 0 { bad = 1 } END { exit !bad }' <<<"$out"; then echo "unmutated source must pass" >&2; status=1; fi

for mutation in ln-eps tanh-gelu; do
  case $mutation in
    ln-eps) sed -i 's/export const LAYER_NORM_EPS = 1e-6;/export const LAYER_NORM_EPS = 1e-5;/' src/config.ts ;;
    tanh-gelu) sed -i 's|tf.erf(tf.mul(xt, INV_SQRT2))|tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(xt, tf.mul(0.044715, tf.pow(xt, 3)))))|' src/ops.ts ;;
  esac
  if git diff --quiet -- src/config.ts src/ops.ts; then echo "mutation $mutation did not apply" >&2; exit 2; fi
  echo "== $mutation (failed/total per backend)"
  out=$(run); echo "$out"
  if [ -z "$out" ] || awk '$2 == 0 { bad = 1 } END { exit !bad }' <<<"$out"; then echo "$mutation: some backend passed" >&2; status=1; fi
  restore
done
rm -f "$report"
exit $status
