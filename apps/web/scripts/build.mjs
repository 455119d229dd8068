// Builds the page into apps/web/dist: one ES module bundle (esbuild, sources through the "@aim/source" condition)
// and index.html. Prints the bundle's size; fails if anything in it needs Node.
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist`;
mkdirSync(out, { recursive: true });
const minify = !process.argv.includes('--no-minify');
await build({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${out}/main.js`,
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
const bytes = statSync(`${out}/main.js`).size;
const gz = gzipSync(readFileSync(`${out}/main.js`)).length;
console.log(`web: dist/main.js ${(bytes / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzip)${minify ? '' : ', not minified'}; dist/index.html`);
