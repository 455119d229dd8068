#!/usr/bin/env bash
# Installs @aim/webdataset, @aim/data and @aim/model (with @aim/base, which they share) the way a user gets them, and runs one real call of each.
#
# Why it exists: inside the workspace every @aim/* package resolves through a symlink and the `@aim/source` export
# condition, so `npm test` never sees what `npm pack` ships (dist/ built or not, `files`, `exports`, the wasm kernels)
# nor what `npm install` resolves outside the workspace (@tensorflow/tfjs-core and the backends as peers, one copy of
# each; the optional `webgpu` package absent). This packs the four packages (their `prepack` builds them) into a
# scratch folder outside the workspace, installs the tarballs there in one `npm install` (so the @aim/* dependencies
# between them resolve to the tarballs, not to the registry), and runs check.mjs there. Nothing is downloaded except
# from the npm registry (the peers, sharp and its prebuilt libvips). Keep the folder with AIM_PACK_CHECK_KEEP=1.
#
# Usage: npx nx run pack-check:check   (or: bash tools/pack-check/pack-check.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/aim-pack-check.XXXXXX")"
if [ "${AIM_PACK_CHECK_KEEP:-}" = 1 ]; then
  echo "pack-check: keeping $scratch" >&2
else
  trap 'rm -rf "$scratch"' EXIT
fi
case "$scratch/" in "$root"/*) echo "pack-check: the scratch folder must be outside the workspace ($scratch)" >&2; exit 1 ;; esac

echo "pack-check: packing into $scratch" >&2
# stdout too goes to stderr: prepack's build output is progress, not the check's result.
(cd "$root" && npm pack --loglevel=warn --pack-destination "$scratch" -w @aim/base -w @aim/webdataset -w @aim/data -w @aim/model >&2)
tarballs=("$scratch"/aim-base-*.tgz "$scratch"/aim-webdataset-*.tgz "$scratch"/aim-data-*.tgz "$scratch"/aim-model-*.tgz)
for t in "${tarballs[@]}"; do
  [ -f "$t" ] || { echo "pack-check: npm pack left no $t" >&2; exit 1; }
  # The whole listing first: `grep -q` would close the pipe early and pipefail would report tar's SIGPIPE.
  listing="$(tar -tzf "$t")"
  grep -qx 'package/dist/index\.js' <<<"$listing" || { echo "pack-check: $(basename "$t") has no dist/index.js" >&2; exit 1; }
done

cd "$scratch"
printf '{ "name": "aim-pack-check-scratch", "version": "0.0.0", "private": true, "type": "module" }\n' >package.json
echo "pack-check: npm install ${tarballs[*]##*/}" >&2
npm install --no-audit --no-fund --prefer-offline "${tarballs[@]}" >&2
cp "$here/check.mjs" .
node check.mjs
