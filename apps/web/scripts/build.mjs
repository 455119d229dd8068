// Builds the page into apps/web/dist: one ES module bundle (esbuild, sources through the "@aim/source" condition)
// and index.html. Prints the bundle's size; fails if anything in it needs Node.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist`;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/tfjs-wasm`, { recursive: true });
const minify = !process.argv.includes('--no-minify');
const result = await build({
  metafile: true,
  absWorkingDir: root,
  entryPoints: [`${root}src/main.ts`],
  outdir: out,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  conditions: ['@aim/source'],
  minify,
  sourcemap: true,
  logLevel: 'warning',
});
copyFileSync(`${root}src/index.html`, `${out}/index.html`);
// The wasm trunk's binaries, fetched only when the page falls back to it.
const wasmDist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
for (const f of readdirSync(wasmDist).filter((f) => f.endsWith('.wasm'))) copyFileSync(`${wasmDist}/${f}`, `${out}/tfjs-wasm/${f}`);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const gz = (f) => gzipSync(readFileSync(`${root}${f}`)).length;
// What the page loads up front: main.js and the chunks it imports statically; the rest loads only for the wasm trunk.
const outputs = result.metafile.outputs;
const js = Object.keys(outputs).filter((f) => f.endsWith('.js'));
const eager = new Set();
const visit = (f) => {
  if (eager.has(f)) return;
  eager.add(f);
  for (const i of outputs[f].imports) if (i.kind === 'import-statement') visit(i.path);
};
visit(js.find((f) => f.endsWith('dist/main.js')));
const lazy = js.filter((f) => !eager.has(f));
const sum = (files, of) => files.reduce((n, f) => n + of(f), 0);
const bytes = (f) => outputs[f].bytes;
const wasmBytes = readdirSync(`${out}/tfjs-wasm`).map((f) => statSync(`${out}/tfjs-wasm/${f}`).size);
console.log(
  `web: page bundle (main.js + ${eager.size - 1} chunk(s)) ${kib(sum([...eager], bytes))} (${kib(sum([...eager], gz))} gzip)${minify ? '' : ', not minified'}; ` +
    `wasm fallback, fetched only without WebGPU: ${lazy.length} chunk(s) ${kib(sum(lazy, bytes))} (${kib(sum(lazy, gz))} gzip) ` +
    `+ one .wasm file of ${wasmBytes.map(kib).join(' / ')}`,
);
