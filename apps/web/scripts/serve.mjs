// Serves the built page (apps/web/dist) and, at /probe.safetensors, a probe file: --probe <file>, else the newest
// probe.safetensors under runs/eval/ of the workspace. Without one, that URL answers 404 with the two commands that
// make one, and the page shows that message.
// Usage: node apps/web/scripts/serve.mjs [--port 8080] [--host 127.0.0.1] [--probe <file>] [--root <workspace>]
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css' };
export const NO_PROBE_MESSAGE =
  'No probe file found under runs/eval/. Make one with: npx nx run trainer:train  then  npx nx run eval:probe -- --checkpoint runs/demo-<time>  (or choose a probe.safetensors below).';

/** The newest probe.safetensors under `dir` (recursively), or null. */
export function newestProbe(dir) {
  let best = null;
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'probe.safetensors') {
        const m = statSync(p).mtimeMs;
        if (!best || m > best.m) best = { p, m };
      }
    }
  };
  walk(dir);
  return best?.p ?? null;
}

/** Starts the server; resolves with it and its URL once it listens. */
export function startServer({ port = 8080, host = '127.0.0.1', probe = null, root = process.cwd(), dist } = {}) {
  const distDir = dist ?? fileURLToPath(new URL('../dist', import.meta.url));
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/probe.safetensors') {
      const file = probe ?? newestProbe(join(root, 'runs', 'eval'));
      if (!file || !existsSync(file)) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(file ? `probe file ${file} does not exist` : NO_PROBE_MESSAGE);
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': statSync(file).size,
        'x-probe-path': relative(root, file) || file,
        'cache-control': 'no-store',
      });
      createReadStream(file).pipe(res);
      return;
    }
    const target = normalize(join(distDir, path === '/' ? 'index.html' : path));
    if (!target.startsWith(distDir + sep) || !existsSync(target) || !statSync(target).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(existsSync(join(distDir, 'index.html')) ? 'not found' : 'apps/web/dist is not built: npx nx run web:build');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(target).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const a = server.address();
      ok({ server, url: `http://${host}:${a.port}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const root = resolve(flag('root', process.env.NX_WORKSPACE_ROOT ?? process.cwd()));
  const probe = flag('probe', null);
  const { url } = await startServer({ port: Number(flag('port', '8080')), host: flag('host', '127.0.0.1'), probe: probe && resolve(probe), root });
  const served = probe ? resolve(probe) : newestProbe(join(root, 'runs', 'eval'));
  console.log(`web: serving ${url}`);
  console.log(served ? `web: probe file ${served}` : `web: ${NO_PROBE_MESSAGE}`);
}
