// The static server: the newest probe.safetensors under runs/eval/, --probe, the no-probe message, no escapes from dist.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NO_PROBE_MESSAGE, startServer } from '../scripts/serve.mjs';

const root = mkdtempSync(join(tmpdir(), 'aim-web-root-'));
const dist = join(root, 'dist');
mkdirSync(dist);
writeFileSync(join(dist, 'index.html'), '<p>page</p>');
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function get(url: string): Promise<{ status: number; body: string; path: string | null }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), path: r.headers.get('x-probe-path') };
}

describe('serve.mjs', () => {
  it('serves the page, the newest probe file, and the no-probe message', async () => {
    const { server, url } = await startServer({ port: 0, root, dist });
    try {
      expect(await get(url)).toMatchObject({ status: 200, body: '<p>page</p>' });
      expect(await get(`${url}probe.safetensors`)).toMatchObject({ status: 404, body: NO_PROBE_MESSAGE });
      for (const [dir, age] of [
        ['old-attentive', 100],
        ['new-attentive', 10],
        ['nested/run-attentive', 50],
      ] as const) {
        mkdirSync(join(root, 'runs/eval', dir), { recursive: true });
        const f = join(root, 'runs/eval', dir, 'probe.safetensors');
        writeFileSync(f, dir);
        const t = Date.now() / 1000 - age;
        utimesSync(f, t, t);
      }
      expect(await get(`${url}probe.safetensors`)).toMatchObject({ status: 200, body: 'new-attentive', path: 'runs/eval/new-attentive/probe.safetensors' });
      expect((await get(`${url}..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('--probe names the file to serve', async () => {
    const f = join(root, 'chosen.safetensors');
    writeFileSync(f, 'chosen');
    const { server, url } = await startServer({ port: 0, root, dist, probe: f });
    try {
      expect(await get(`${url}probe.safetensors`)).toMatchObject({ status: 200, body: 'chosen', path: 'chosen.safetensors' });
    } finally {
      server.close();
    }
  });
});
