// Reading shards over HTTP from a server on 127.0.0.1 started by the test: streaming, transient failures,
// broken transfers resumed with Range (and skipped ahead when the server ignores Range), stalls cut short by the
// stall timeout, refused connections, and 4xx errors.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpStatusError, readSamples, ShardWriter, WebDatasetError, type WdsErrorInfo } from '../src/index.js';
import { collect, comparable, withTempDir } from './helpers.js';

let shard: Uint8Array; // 6 samples of 40 KB each
let expected: Record<string, unknown>[];
let server: Server;
let base: string;
const hits = new Map<string, number>();
const rangeHeaders: string[] = [];
/** Status codes the server answered per path, in order. */
const statuses = new Map<string, number[]>();
/** Connections the server saw closed while it was holding a stalled response open. */
const stalledClosed = new Map<string, number>();
let releaseSlow: () => void = () => undefined;
const slowReleased = new Promise<void>((resolve) => (releaseSlow = resolve));

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  const hit = (hits.get(path) ?? 0) + 1;
  hits.set(path, hit);
  if (req.headers.range) rangeHeaders.push(`${path} ${req.headers.range}`);
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = range ? Number(range[1]) : 0;
  const status = (code: number) => statuses.set(path, [...(statuses.get(path) ?? []), code]);
  // Holds a response open without sending more, counting the connection when the client closes it.
  const hold = () => res.on('close', () => stalledClosed.set(path, (stalledClosed.get(path) ?? 0) + 1));
  const send = () => {
    status(range ? 206 : 200);
    res.writeHead(range ? 206 : 200, {
      'content-length': shard.length - start,
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${shard.length - 1}/${shard.length}` } : {}),
    });
    res.end(shard.subarray(start));
  };
  if (path === '/ok.tar') {
    send();
    return;
  }
  if (path === '/missing.tar') {
    res.writeHead(404).end('no such shard');
    return;
  }
  if (path === '/flaky.tar') {
    // Two transient failures, then success.
    if (hit <= 2) {
      res.writeHead(503).end('busy');
      return;
    }
    send();
    return;
  }
  if (path === '/always-500.tar') {
    res.writeHead(500).end('broken');
    return;
  }
  if (path === '/breaks.tar') {
    // First transfer dies after 100 KB; the retry asks for the rest with Range.
    if (hit === 1) {
      res.writeHead(200, { 'content-length': shard.length, 'accept-ranges': 'bytes' });
      res.write(shard.subarray(0, 100_000), () => res.destroy());
      return;
    }
    send();
    return;
  }
  if (path === '/bad-range.tar' || path === '/changed.tar') {
    // Breaks like /breaks.tar, then answers the resume wrongly: a wrong range, or a different file version.
    if (hit === 1) {
      res.writeHead(200, { 'content-length': shard.length, etag: '"v1"' });
      res.write(shard.subarray(0, 100_000), () => res.destroy());
      return;
    }
    if (path === '/bad-range.tar') {
      res.writeHead(206, { 'content-length': shard.length, 'content-range': `bytes 0-${shard.length - 1}/${shard.length}`, etag: '"v1"' });
    } else {
      res.writeHead(200, { 'content-length': shard.length, etag: '"v2"' });
    }
    res.end(shard);
    return;
  }
  if (path === '/stalls-once.tar') {
    // The first transfer stops sending after 100 KB and keeps the connection open; the retry gets the rest.
    if (hit === 1) {
      status(200);
      res.writeHead(200, { 'content-length': shard.length, 'accept-ranges': 'bytes' });
      res.write(shard.subarray(0, 100_000));
      hold();
      return;
    }
    send();
    return;
  }
  if (path === '/stalls-before-headers.tar') {
    // The first request never gets an answer at all.
    if (hit === 1) return void hold();
    send();
    return;
  }
  if (path === '/always-stalls.tar') {
    // Headers, then nothing, every time.
    status(range ? 206 : 200);
    res.writeHead(range ? 206 : 200, {
      'content-length': shard.length - start,
      ...(range ? { 'content-range': `bytes ${start}-${shard.length - 1}/${shard.length}` } : {}),
    });
    res.flushHeaders();
    hold();
    return;
  }
  if (path === '/ignores-range.tar') {
    // Breaks after 100 KB; the retry's Range header is ignored: a 200 with the whole shard (the skip-ahead path).
    status(200);
    res.writeHead(200, { 'content-length': shard.length });
    if (hit === 1) res.write(shard.subarray(0, 100_000), () => res.destroy());
    else res.end(shard);
    return;
  }
  if (path === '/slow.tar') {
    // Send the first half, then wait until the client has read a sample: proves samples stream before the shard ends.
    res.writeHead(200, { 'content-length': shard.length });
    res.write(shard.subarray(0, shard.length / 2));
    void slowReleased.then(() => res.end(shard.subarray(shard.length / 2)));
    return;
  }
  res.writeHead(404).end();
}

beforeAll(async () => {
  await withTempDir(async (dir) => {
    const writer = new ShardWriter({ pattern: join(dir, 'h-%d.tar') });
    const samples = Array.from({ length: 6 }, (_, i) => ({ __key__: `img${i}`, bin: new Uint8Array(40_000).fill(i + 1), cls: i }));
    for (const s of samples) await writer.write(s);
    const [path] = await writer.close();
    shard = new Uint8Array(await readFile(path));
    expected = samples.map((s) => comparable({ __key__: s.__key__, bin: s.bin, cls: new TextEncoder().encode(String(s.cls)) }));
  });
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  releaseSlow();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const fast = { http: { backoffMs: 5, maxBackoffMs: 20 } };
const STALL_MS = 150;
const stallFast = { http: { ...fast.http, stallTimeoutMs: STALL_MS } };

describe('http(s) shards', () => {
  it('streams samples: the first sample arrives while the server still holds back half the shard', async () => {
    const keys: string[] = [];
    for await (const s of readSamples(`${base}/slow.tar`)) {
      keys.push(s.__key__);
      if (keys.length === 1) releaseSlow();
    }
    expect(keys).toEqual(expected.map((s) => s.__key__));
  });

  it('retries transient 5xx answers and gets every sample', async () => {
    const got = await collect(readSamples(`${base}/flaky.tar`, fast));
    expect(got.map(comparable)).toEqual(expected);
    expect(hits.get('/flaky.tar')).toBe(3);
  });

  it('resumes a broken transfer with a Range request, without duplicating or losing bytes', async () => {
    const got = await collect(readSamples(`${base}/breaks.tar`, fast));
    expect(got.map(comparable)).toEqual(expected);
    expect(hits.get('/breaks.tar')).toBe(2);
    expect(rangeHeaders).toHaveLength(1);
    expect(rangeHeaders[0]).toMatch(/^\/breaks\.tar bytes=[1-9]\d*-$/);
  });

  it('refuses a resume that would splice wrong bytes: wrong content-range, or a changed file', async () => {
    const errors: WdsErrorInfo[] = [];
    const got = await collect(readSamples([`${base}/bad-range.tar`, `${base}/changed.tar`], { ...fast, errorPolicy: 'skip', onError: (e) => errors.push(e) }));
    // Samples known complete before the bad splice are kept (how many depends on how much of the first, broken
    // transfer arrived); nothing after it is.
    for (const url of ['bad-range', 'changed']) {
      const keys = got.filter((s) => s.__url__.endsWith(`/${url}.tar`)).map((s) => s.__key__);
      expect(keys).toEqual(expected.slice(0, keys.length).map((s) => s.__key__));
      expect(keys.length).toBeLessThan(3);
    }
    expect(got.map(comparable)).toEqual(got.map((s) => expected.find((e) => e.__key__ === s.__key__)));
    expect(errors.map((e) => e.reason)).toEqual([
      expect.stringMatching(/asked to resume at byte \d+ but the server sent content-range "bytes 0-/),
      expect.stringMatching(/the shard changed on the server while it was being read \(was "v1", now "v2"\)/),
    ]);
  });

  it('404 is a clear error naming the URL, not retried; warn reports it and reads the next shard', async () => {
    const url = `${base}/missing.tar`;
    const error = await collect(readSamples(url, fast)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebDatasetError);
    expect((error as WebDatasetError).message).toContain(`HTTP 404 Not Found for ${url}`);
    expect((error as WebDatasetError).cause).toBeInstanceOf(HttpStatusError);
    expect(hits.get('/missing.tar')).toBe(1);
    const errors: WdsErrorInfo[] = [];
    const got = await collect(readSamples([url, `${base}/ok.tar`], { ...fast, errorPolicy: 'warn', onError: (e) => errors.push(e) }));
    expect(got.map(comparable)).toEqual(expected);
    expect(errors).toEqual([{ url, reason: expect.stringContaining('HTTP 404') }]);
  });

  it('gives up after the bounded number of retries, naming the URL and the attempts', async () => {
    const url = `${base}/always-500.tar`;
    await expect(collect(readSamples(url, { http: { retries: 2, backoffMs: 5 } }))).rejects.toThrow(new RegExp(`${url}.*HTTP 500.*gave up after 3 attempts`));
    expect(hits.get('/always-500.tar')).toBe(3);
  });

  it('a transfer that stalls mid-shard is cut after the stall timeout and resumed with Range', async () => {
    const t0 = performance.now();
    const got = await collect(readSamples(`${base}/stalls-once.tar`, stallFast));
    const seconds = (performance.now() - t0) / 1000;
    expect(got.map(comparable)).toEqual(expected);
    expect(hits.get('/stalls-once.tar')).toBe(2);
    expect(statuses.get('/stalls-once.tar')).toEqual([200, 206]);
    expect(rangeHeaders.filter((h) => h.startsWith('/stalls-once.tar '))).toEqual([expect.stringMatching(/^\/stalls-once\.tar bytes=[1-9]\d*-$/)]);
    expect(seconds).toBeLessThan(5); // one 150 ms stall and a short backoff, not undici's 300 s
    await waitFor(() => stalledClosed.get('/stalls-once.tar') === 1); // the stalled connection was dropped
  });

  it('a request that never gets its headers is cut after the stall timeout and retried', async () => {
    const got = await collect(readSamples(`${base}/stalls-before-headers.tar`, stallFast));
    expect(got.map(comparable)).toEqual(expected);
    expect(hits.get('/stalls-before-headers.tar')).toBe(2);
    await waitFor(() => stalledClosed.get('/stalls-before-headers.tar') === 1);
  });

  it('a server that keeps stalling is given up after the retries and reported like any network error', async () => {
    const url = `${base}/always-stalls.tar`;
    const options = { http: { ...stallFast.http, retries: 2 } };
    const t0 = performance.now();
    await expect(collect(readSamples(url, options))).rejects.toThrow(
      new RegExp(`${url}: transfer broke after 0 bytes \\(stalled: no data for ${STALL_MS} ms\\); gave up after 3 attempts`),
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(hits.get('/always-stalls.tar')).toBe(3);
    // with errorPolicy 'warn' the report names the URL and the stall, and the next shard is read
    const errors: WdsErrorInfo[] = [];
    const got = await collect(readSamples([url, `${base}/ok.tar`], { ...options, errorPolicy: 'warn', onError: (e) => errors.push(e) }));
    expect(got.map(comparable)).toEqual(expected);
    expect(errors).toEqual([{ url, reason: expect.stringMatching(/stalled: no data for 150 ms\); gave up after 3 attempts/) }]);
    await waitFor(() => stalledClosed.get('/always-stalls.tar') === 6);
  });

  it('a slow consumer is not a stall: only waits on the server are timed', async () => {
    const keys: string[] = [];
    for await (const s of readSamples(`${base}/ok.tar`, { http: { stallTimeoutMs: 100, retries: 0 } })) {
      keys.push(s.__key__);
      await new Promise((r) => setTimeout(r, 250)); // longer than the stall timeout, between chunks
    }
    expect(keys).toEqual(expected.map((s) => s.__key__));
  });

  it('a refused connection is retried, then given up naming ECONNREFUSED and the attempts', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/x.tar`;
    const errors: WdsErrorInfo[] = [];
    const got = await collect(
      readSamples([url, `${base}/ok.tar`], { http: { retries: 2, backoffMs: 5 }, errorPolicy: 'warn', onError: (e) => errors.push(e) }),
    );
    expect(got.map(comparable)).toEqual(expected);
    expect(errors).toEqual([{ url, reason: expect.stringMatching(/network error \(fetch failed: .*ECONNREFUSED.*\); gave up after 3 attempts/) }]);
  });

  it('a server that ignores Range on the retry: the resent start is skipped, no byte duplicated or lost', async () => {
    const got = await collect(readSamples(`${base}/ignores-range.tar`, fast));
    expect(got.map(comparable)).toEqual(expected);
    expect(hits.get('/ignores-range.tar')).toBe(2);
    expect(statuses.get('/ignores-range.tar')).toEqual([200, 200]);
    expect(rangeHeaders.filter((h) => h.startsWith('/ignores-range.tar '))).toEqual([expect.stringMatching(/bytes=[1-9]\d*-$/)]);
  });

  it('http.stallTimeoutMs must be positive', async () => {
    await expect(collect(readSamples(`${base}/ok.tar`, { http: { stallTimeoutMs: 0 } }))).rejects.toThrow(/stallTimeoutMs must be > 0, got 0/);
  });
});

async function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`waitFor: condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
