#!/usr/bin/env bash
# bundle.sh <entry.ts> <out.mjs> [esbuild flags]: a self-contained ESM bundle for the GPU machine (everything but
# dawn.node, which the `webgpu` package loads at run time from <bundle dir>/dist/linux-x64/, and the optional
# tfjs-node peers); more flags (e.g. --external:sharp) go to esbuild.
set -euo pipefail
entry="$1" outfile="$2"
shift 2
banner="import { createRequire as __aimCreateRequire } from 'node:module'; import { fileURLToPath as __aimFileURLToPath } from 'node:url'; import { dirname as __aimDirname } from 'node:path'; const require = __aimCreateRequire(import.meta.url); var __filename = __aimFileURLToPath(import.meta.url); var __dirname = __aimDirname(__filename);"
npx esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --conditions=@aim/source \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --ignore-annotations --log-level=error --banner:js="$banner" --outfile="$outfile" "$@"
