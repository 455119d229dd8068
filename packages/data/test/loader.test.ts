// createLoader end to end on real-photo shards: shapes, accounting, determinism across worker counts, ordering,
// filters, labels, mixing, resume, worker failures and shutdown.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WritableSample } from '@aim/webdataset';
import {
  createLoader,
  defaultTransformOptions,
  DEFAULT_LIMITS,
  processSample,
  reserveDecodeThreads,
  type LoaderOptions,
  type PatchBatch,
  type Rejection,
} from '../src/index.js';
import { imageCases, photos } from './fixtures.js';
import { writeShards, type TempShards } from './shards.js';

const small = { imageSize: 32, patchSize: 8 } as const; // K = 16, patchDim = 192

async function collect(options: LoaderOptions): Promise<{ batches: PatchBatch[]; stats: ReturnType<ReturnType<typeof createLoader>['stats']> }> {
  const loader = createLoader(options);
  const batches: PatchBatch[] = [];
  for await (const b of loader) batches.push(b);
  return { batches, stats: loader.stats() };
}

let photoBytes: Uint8Array[];
let photoShards: TempShards;
const temp: TempShards[] = [];
beforeAll(async () => {
  photoBytes = await photos(96);
  const samples: WritableSample[] = Array.from({ length: 14 }, (_, i) => ({
    __key__: `img${String(i).padStart(3, '0')}`,
    jpg: photoBytes[i % photoBytes.length],
    cls: i % 5,
    json: { status: i % 4 === 3 ? 'failed_to_download' : 'success', caption: `photo ${i}` },
  }));
  photoShards = await writeShards(samples, 5);
  temp.push(photoShards);
});
afterAll(() => temp.forEach((t) => t.remove()));

describe('createLoader', () => {
  it('yields [B, K, p*p*3] batches whose patches equal the worker function run in-process', async () => {
    const { batches, stats } = await collect({ shards: photoShards.paths, batchSize: 4, ...small, transform: 'eval', workers: 2, labelKey: 'cls' });
    expect(batches.map((b) => b.batchSize)).toEqual([4, 4, 4, 2]);
    for (const b of batches) {
      expect([b.numPatches, b.patchDim]).toEqual([16, 192]);
      expect(b.patches.length).toBe(b.batchSize * 16 * 192);
      expect(b.labels!.length).toBe(b.batchSize);
      for (const v of b.patches) expect(Number.isFinite(v)).toBe(true);
    }
    const keys = batches.flatMap((b) => b.keys);
    expect(new Set(keys).size).toBe(14);
    expect(batches.flatMap((b) => Array.from(b.labels!))).toEqual(keys.map((k) => Number(k.slice(3)) % 5));
    expect(stats).toMatchObject({ seen: 14, yielded: 14, rejectedTotal: 0, buffered: 0, dropped: 0, batches: 4 });
    // Eval is deterministic and key-independent, so one image run directly gives the same numbers.
    const direct = await processSample({
      key: keys[0],
      bytes: photoBytes[Number(keys[0].slice(3)) % photoBytes.length],
      seed: 0,
      epoch: 0,
      transform: defaultTransformOptions({ ...small, mode: 'eval' }),
      limits: DEFAULT_LIMITS,
    });
    if (!direct.ok) throw new Error('rejected');
    expect(batches[0].patches.subarray(0, 16 * 192)).toEqual(direct.patches);
  });

  it('gives the same batches with 1 and 2 workers (1 or 2 images each) when ordered, and the same per-key results unordered', async () => {
    const base: LoaderOptions = { shards: photoShards.paths, batchSize: 3, ...small, transform: 'train', colorJitter: true, seed: 11, shuffleBuffer: 4 };
    const one = await collect({ ...base, workers: 1, tasksPerWorker: 1 });
    const two = await collect({ ...base, workers: 2, tasksPerWorker: 2 });
    expect(two.batches.map((b) => b.keys)).toEqual(one.batches.map((b) => b.keys));
    two.batches.forEach((b, i) => expect(b.patches).toEqual(one.batches[i].patches));
    const unordered = await collect({ ...base, workers: 2, ordered: false });
    const byKey = (batches: PatchBatch[]) => {
      const m = new Map<string, Float32Array>();
      for (const b of batches) b.keys.forEach((k, i) => m.set(k, b.patches.slice(i * 16 * 192, (i + 1) * 16 * 192)));
      return m;
    };
    const a = byKey(one.batches);
    const u = byKey(unordered.batches);
    expect([...u.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of u) expect(v).toEqual(a.get(k));
    // A different seed changes the augmentation.
    const other = await collect({ ...base, workers: 2, seed: 12 });
    expect(byKey(other.batches).get('img000')).not.toEqual(a.get('img000'));
  });

  it('rejects each malformed input with its reason and loses nothing else', async () => {
    const cases = await imageCases(photoBytes[0]);
    const expected: Record<string, string | null> = {
      truncatedJpeg: 'decode_error',
      zeroBytes: 'decode_error',
      textNamedJpg: 'decode_error',
      hugeHeader: 'too_many_pixels',
      gif: 'decode_error',
      pngWithAlpha: null,
      png16: null,
      cmykJpeg: null,
      grayPng: null,
      webp: null,
    };
    const samples: WritableSample[] = [];
    Object.keys(expected).forEach((name, i) => {
      const ext = name === 'webp' ? 'webp' : name.startsWith('png') || name === 'hugeHeader' || name === 'grayPng' ? 'png' : 'jpg';
      samples.push({ __key__: `bad-${name}`, [ext]: cases[name] });
      samples.push({ __key__: `good${i}`, jpg: photoBytes[i % photoBytes.length] });
    });
    samples.push({ __key__: 'no-image', txt: 'a caption without its picture', json: { status: 'success' } });
    const shards = await writeShards(samples, 7);
    temp.push(shards);
    const rejections: Rejection[] = [];
    const { batches, stats } = await collect({ shards: shards.paths, batchSize: 4, ...small, workers: 2, onReject: (r) => rejections.push(r) });
    const why = Object.fromEntries(rejections.map((r) => [r.key, r.reason]));
    for (const [name, reason] of Object.entries(expected)) expect(why[`bad-${name}`]).toBe(reason ?? undefined);
    expect(why['no-image']).toBe('missing_image');
    expect(stats.rejected).toEqual({ decode_error: 4, too_many_pixels: 1, missing_image: 1 });
    expect(stats.yielded).toBe(samples.length - 6);
    expect(batches.flatMap((b) => b.keys).filter((k) => k.startsWith('good'))).toHaveLength(10);
    for (const r of rejections) expect(r.url).toMatch(/\.tar$/);
  });

  it("errorPolicy 'raise' throws on broken data, naming the sample", async () => {
    const shards = await writeShards(
      [
        { __key__: 'ok', jpg: photoBytes[0] },
        { __key__: 'broken', jpg: new TextEncoder().encode('not a jpeg') },
      ],
      10,
    );
    temp.push(shards);
    await expect(collect({ shards: shards.paths, batchSize: 1, ...small, workers: 1, errorPolicy: 'raise', transform: 'eval' })).rejects.toThrow(
      /"broken".*decode_error/,
    );
  });

  it('fails an epoch that read no samples with the first read error and how many more, in one line', async () => {
    const missing = join(tmpdir(), `aim-missing-${process.pid}`);
    const err = await collect({ shards: [`${missing}/x-000.tar`, `${missing}/x-001.tar`], batchSize: 2, ...small, workers: 1 }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain(`${missing}/x-00`);
    expect(message).toMatch(/ENOENT|no such file/i);
    expect(message).toContain('(and 1 more read error)');
    expect(message).not.toContain('\n');
  });

  it('runs user predicates on json/txt before decoding, parses labels, and applies size filters', async () => {
    const { batches, stats } = await collect({
      shards: photoShards.paths,
      batchSize: 20,
      ...small,
      workers: 1,
      labelKey: 'cls',
      filters: { predicates: { status: (s) => (s.json as { status: string }).status === 'success', caption: (s) => s.txt === undefined } },
    });
    expect(stats.rejected).toEqual({ 'filter:status': 3 });
    expect(batches[0].keys.every((k) => Number(k.slice(3)) % 4 !== 3)).toBe(true);
    const sized = await collect({ shards: photoShards.paths, batchSize: 20, ...small, workers: 1, filters: { minSide: 80 } });
    // The photos at 96 px on the long side: those under 80 on the short side are too_small.
    expect((sized.stats.rejected.too_small ?? 0) + sized.stats.yielded).toBe(14);
    expect(sized.stats.rejected.too_small).toBeGreaterThan(0);
  });

  it('a shard truncated mid-way: seen counts the complete samples before the damage, the one cut names itself as lost', async () => {
    const samples: WritableSample[] = Array.from({ length: 8 }, (_, i) => ({ __key__: `t${i}`, jpg: photoBytes[i % photoBytes.length], cls: i }));
    const shards = await writeShards(samples, 8, 'trunc');
    temp.push(shards);
    const tar = readFileSync(shards.paths[0]);
    // cut in the middle of sample t4's image: after its header and 100 bytes of its data
    const header = tar.indexOf(Buffer.from('t4.jpg\0'));
    expect(header % 512).toBe(0);
    writeFileSync(shards.paths[0], tar.subarray(0, header + 512 + 100));
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => void warned.push(m);
    try {
      for (const epochs of [1, 2]) {
        warned.length = 0;
        const { batches, stats } = await collect({ shards: shards.paths, batchSize: 3, ...small, workers: 1, labelKey: 'cls', errorPolicy: 'warn', epochs });
        // t0..t3 complete; t4 cut (named, lost); t5..t7 are not in the file: counted nowhere
        expect(batches.flatMap((b) => b.keys)).toEqual(Array.from({ length: epochs }, () => ['t0', 't1', 't2', 't3']).flat());
        expect(stats).toMatchObject({ seen: 4 * epochs, yielded: 4 * epochs, rejectedTotal: 0, readErrors: epochs, lostToReadErrors: epochs });
        expect(warned).toHaveLength(epochs);
        expect(warned[0]).toMatch(
          /read error in .*trunc-0000\.tar \(t4\): archive is truncated: member t4\.jpg should have \d+ bytes but the archive ends after 100/,
        );
      }
    } finally {
      console.warn = warn;
    }
  });

  it('seen == yielded + rejected + dropped under random corruption of a shard', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('keep', 'truncate', 'zero', 'garble', 'text', 'drop-image', 'filtered'), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        async (ops, batchSize, dropLast, ordered) => {
          const samples: WritableSample[] = ops.map((op, i) => {
            const jpg = photoBytes[i % photoBytes.length].slice();
            const key = `c${i}`;
            if (op === 'truncate') return { __key__: key, jpg: jpg.slice(0, 1 + ((i * 97) % (jpg.length - 1))) };
            if (op === 'zero') return { __key__: key, jpg: new Uint8Array(0) };
            if (op === 'garble') {
              for (let j = 200; j < jpg.length; j += 7) jpg[j] ^= 0x5a;
              return { __key__: key, jpg };
            }
            if (op === 'text') return { __key__: key, jpg: new TextEncoder().encode(`caption ${i}`) };
            if (op === 'drop-image') return { __key__: key, txt: 'only text' };
            return { __key__: key, jpg, json: { status: op === 'filtered' ? 'bad' : 'success' } };
          });
          const shards = await writeShards(samples, 4);
          try {
            const { batches, stats } = await collect({
              shards: shards.paths,
              batchSize,
              dropLast,
              ordered,
              ...small,
              workers: 1,
              filters: { predicates: { status: (s) => (s.json as { status?: string } | undefined)?.status !== 'bad' } },
            });
            expect(stats.seen).toBe(ops.length);
            expect(stats.seen).toBe(stats.yielded + stats.rejectedTotal + stats.dropped);
            expect(stats.buffered).toBe(0);
            expect(batches.reduce((n, b) => n + b.batchSize, 0)).toBe(stats.yielded);
            expect(stats.rejected['filter:status'] ?? 0).toBe(ops.filter((o) => o === 'filtered').length);
            expect(stats.rejected.missing_image ?? 0).toBe(ops.filter((o) => o === 'drop-image').length);
            if (dropLast) expect(batches.every((b) => b.batchSize === batchSize)).toBe(true);
          } finally {
            shards.remove();
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it('splits shards between ranks: disjoint, and together everything once', async () => {
    const run = (rank: number) => collect({ shards: photoShards.paths, batchSize: 8, ...small, workers: 1, rank, worldSize: 2, transform: 'eval' });
    const [a, b] = [await run(0), await run(1)];
    const keysA = a.batches.flatMap((x) => x.keys);
    const keysB = b.batches.flatMap((x) => x.keys);
    expect(keysA.length).toBeGreaterThan(0);
    expect(keysB.length).toBeGreaterThan(0);
    expect(keysA.filter((k) => keysB.includes(k))).toEqual([]);
    expect([...keysA, ...keysB].sort()).toHaveLength(14);
  });

  it("resumes a rank's own shards exactly from its saved position (shards split by rank, shuffled per epoch)", async () => {
    const base: LoaderOptions = { shards: photoShards.paths, batchSize: 2, ...small, workers: 1, seed: 9, epochs: 3, rank: 1, worldSize: 2 };
    const loader = createLoader(base);
    const all: PatchBatch[] = [];
    let saved: ReturnType<typeof loader.position> | undefined;
    for await (const batch of loader) {
      all.push(batch);
      if (all.length === 4) saved = loader.position();
    }
    expect(saved!.epoch).toBeGreaterThan(0); // rank 1 reads one shard (at most 5 samples, 3 batches) an epoch: the save falls inside epoch 1
    const { batches } = await collect({ ...base, resume: saved });
    expect(batches.map((b) => b.keys)).toEqual(all.slice(4).map((b) => b.keys));
  });

  it('refuses, before reading anything, more ranks than shards, naming the spec', () => {
    const spec = photoShards.paths;
    expect(() => createLoader({ shards: spec, batchSize: 2, ...small, rank: 0, worldSize: 4 })).toThrow(
      'createLoader: 4 ranks split the shards (rank r reads shards r, r+4, ...), but the shard list has 3 shard(s): every rank needs at least one',
    );
    const pattern = join(photoShards.dir, 'shard-{0000..0002}.tar');
    expect(() => createLoader({ shards: pattern, batchSize: 2, ...small, rank: 3, worldSize: 4 })).toThrow(`but '${pattern}' has 3 shard(s)`);
    // Resampling draws shards instead of splitting them: any number of ranks.
    expect(() => createLoader({ shards: spec, batchSize: 2, ...small, rank: 0, worldSize: 4, resampled: true, samplesPerEpoch: 4 })).not.toThrow();
  });

  it('mixes sources by weight (DFN-2B+ style 0.8 / 0.2)', async () => {
    const a = await writeShards(
      Array.from({ length: 6 }, (_, i) => ({ __key__: `a${i}`, jpg: photoBytes[0] })),
      3,
      'dfn',
    );
    const b = await writeShards(
      Array.from({ length: 6 }, (_, i) => ({ __key__: `b${i}`, jpg: photoBytes[1] })),
      3,
      'in1k',
    );
    temp.push(a, b);
    let fromA = 0;
    let total = 0;
    // A predicate that refuses everything shows the mixed stream without decoding a single image.
    const { stats } = await collect({
      sources: [
        { shards: a.paths, weight: 0.8 },
        { shards: b.paths, weight: 0.2 },
      ],
      resampled: true,
      samplesPerEpoch: 4000,
      batchSize: 8,
      ...small,
      workers: 1,
      filters: { predicates: { count: (s) => (total++, s.key.startsWith('a') && fromA++, false) } },
    });
    expect(stats.seen).toBe(4000);
    expect(total).toBe(4000);
    expect(fromA / total).toBeGreaterThan(0.78);
    expect(fromA / total).toBeLessThan(0.82);
  });

  it('resumes from a saved position with the same batches (ordered)', async () => {
    const base: LoaderOptions = { shards: photoShards.paths, batchSize: 3, ...small, workers: 2, seed: 5, epochs: 2, shuffleBuffer: 3 };
    const loader = createLoader(base);
    const all: PatchBatch[] = [];
    let saved: ReturnType<typeof loader.position> | undefined;
    for await (const batch of loader) {
      all.push(batch);
      if (all.length === 6) saved = loader.position(); // inside epoch 1 (5 batches per epoch)
    }
    expect(all).toHaveLength(10);
    expect(saved).toEqual({ epoch: 1, samplesInEpoch: 3 });
    const { batches } = await collect({ ...base, resume: saved });
    expect(batches.map((b) => b.keys)).toEqual(all.slice(6).map((b) => b.keys));
    batches.forEach((b, i) => expect(b.patches).toEqual(all[6 + i].patches));
    expect(batches[0].epoch).toBe(1);
  });

  it('retries a failing task once, rejects a worker that keeps dying as worker_error, and never hangs', async () => {
    const shards = await writeShards(
      [
        { __key__: 'fine0', jpg: photoBytes[0] },
        { __key__: 'flaky1', jpg: photoBytes[1] },
        { __key__: 'die2', jpg: photoBytes[2] },
        { __key__: 'fine3', jpg: photoBytes[3] },
      ],
      10,
    );
    temp.push(shards);
    const seed = Math.floor(Math.random() * 1e9); // the fixture's first-attempt marker is per (pid, seed, key)
    const { batches, stats } = await collect({
      shards: shards.paths,
      batchSize: 2,
      ...small,
      workers: 1,
      seed,
      workerFile: new URL('./fixtures/faulty-worker.ts', import.meta.url),
    });
    rmSync(join(tmpdir(), `aim-data-flaky-${process.pid}-${seed}-flaky1`), { force: true });
    expect(stats.rejected).toEqual({ worker_error: 1 });
    expect(batches.flatMap((b) => b.keys).sort()).toEqual(['fine0', 'fine3', 'flaky1']);
  });

  it('recycle() hands a batch buffer to a later batch, once; a partial batch is a view on such a buffer', async () => {
    const loader = createLoader({ shards: photoShards.paths, batchSize: 4, ...small, workers: 1, transform: 'eval' });
    const seen: PatchBatch[] = [];
    const copies: Float32Array[] = [];
    for await (const batch of loader) {
      copies.push(batch.patches.slice());
      seen.push(batch);
      loader.recycle(batch);
      loader.recycle(batch); // a second call must not lend the buffer twice
    }
    expect(seen.map((b) => b.batchSize)).toEqual([4, 4, 4, 2]);
    expect(seen[1].patches).toBe(seen[0].patches); // reused
    expect(seen[2].patches).toBe(seen[0].patches);
    expect(seen[3].patches.buffer).toBe(seen[0].patches.buffer); // the partial batch: the front of the same buffer
    expect(seen[3].patches.length).toBe(2 * 16 * 192);
    // Reuse does not change the data: every batch matched a fresh run when it was yielded.
    const fresh = await collect({ shards: photoShards.paths, batchSize: 4, ...small, workers: 1, transform: 'eval' });
    fresh.batches.forEach((b, i) => expect(copies[i]).toEqual(b.patches));
  });

  it('close() and breaking out of the loop stop the pool and end iteration', async () => {
    // Worker threads show up as OS threads and as MessagePort handles; both must go back to where they were.
    // (libvips keeps its own idle helper threads around for a while, so those are not counted.) A terminated worker
    // thread can take seconds to exit on a loaded machine (CI runs projects in parallel on 2 cores): wait up to 10 s.
    const osThreads = () => readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() !== 'libvips worker').length;
    const threads = () => osThreads() + process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    // Returns the count it last checked (a second reading could catch a thread that started after the check).
    const settle = async (target: number) => {
      let count = threads();
      for (let i = 0; i < 200 && count > target; i++) {
        await new Promise((r) => setTimeout(r, 50));
        count = threads();
      }
      return count;
    };
    // On failure, say which threads and handles are left.
    const census = () =>
      `threads: ${readdirSync('/proc/self/task')
        .map((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim())
        .sort()
        .join(', ')}; handles: ${process.getActiveResourcesInfo().join(', ')}`;
    const before = threads();
    const beforeCensus = census();
    const loader = createLoader({ shards: photoShards.paths, batchSize: 2, ...small, workers: 2, epochs: 1000 });
    for await (const batch of loader) {
      expect(batch.batchSize).toBe(2);
      break;
    }
    expect(await settle(before), `before: ${beforeCensus}\nafter: ${census()}`).toBeLessThanOrEqual(before);
    const second = createLoader({ shards: photoShards.paths, batchSize: 2, ...small, workers: 2, epochs: 1000 });
    const it2 = second[Symbol.asyncIterator]();
    await it2.next();
    const pending = it2.next();
    await second.close();
    await pending.catch(() => undefined);
    expect((await it2.next()).done).toBe(true);
    expect(await settle(before), `before: ${beforeCensus}\nafter: ${census()}`).toBeLessThanOrEqual(before);
  });

  it('sizes libuv for the images in flight, keeps an explicit size, and warns when a loader would outgrow it', async () => {
    const saved = process.env.UV_THREADPOOL_SIZE;
    try {
      delete process.env.UV_THREADPOOL_SIZE;
      reserveDecodeThreads(3, 2);
      expect(process.env.UV_THREADPOOL_SIZE).toBe('6');
      reserveDecodeThreads(16, 2); // an explicit (or earlier) size wins: libuv has read it already
      expect(process.env.UV_THREADPOOL_SIZE).toBe('6');

      process.env.UV_THREADPOOL_SIZE = '4';
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on('warning', onWarning);
      const loader = createLoader({ shards: photoShards.paths, batchSize: 2, ...small, workers: 3, tasksPerWorker: 2 });
      await loader.close();
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      process.off('warning', onWarning);
      expect(warnings.join('\n')).toMatch(/6 images in flight .* libuv has 4 threads .* UV_THREADPOOL_SIZE=6/);
    } finally {
      if (saved === undefined) delete process.env.UV_THREADPOOL_SIZE;
      else process.env.UV_THREADPOOL_SIZE = saved;
    }
  });
});

describe('createLoader over http', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  beforeAll(async () => {
    const files = new Map(photoShards.paths.map((p) => [`/${basename(p)}`, readFileSync(p)]));
    server = createServer((req, res) => {
      const path = req.url ?? '';
      const hit = (hits.get(path) ?? 0) + 1;
      hits.set(path, hit);
      const body = files.get(path.replace('/stalls', ''));
      if (!body) return void res.writeHead(404).end();
      const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      res.writeHead(start > 0 ? 206 : 200, {
        'content-length': body.length - start,
        ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      });
      // '/stalls/<shard>': the first transfer stops half-way and holds the connection open.
      if (path.startsWith('/stalls') && hit === 1) return void res.write(body.subarray(0, body.length >> 1));
      res.end(body.subarray(start));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads http shards into the same batches as the local files, through a stalled transfer and a 404', async () => {
    const names = photoShards.paths.map((p) => basename(p));
    expect(names.length).toBe(3);
    const common = { batchSize: 4, ...small, transform: 'train' as const, seed: 3, workers: 2, labelKey: 'cls' };
    const local = await collect({ ...common, shards: photoShards.paths });
    const urls = [`${base}/${names[0]}`, `${base}/stalls/${names[1]}`, `${base}/${names[2]}`];
    const remote = await collect({ ...common, shards: urls, http: { stallTimeoutMs: 200, backoffMs: 5 } });
    expect(remote.batches.map((b) => b.keys)).toEqual(local.batches.map((b) => b.keys));
    remote.batches.forEach((b, i) => {
      expect(b.patches).toEqual(local.batches[i].patches);
      expect(b.labels).toEqual(local.batches[i].labels);
    });
    expect(remote.stats).toMatchObject({ seen: 14, yielded: 14, readErrors: 0 });
    expect(hits.get(`/stalls/${names[1]}`)).toBe(2); // cut after the stall, resumed

    // A missing shard is a read error; the other shards still arrive.
    const reported: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => void reported.push(m);
    try {
      const partial = await collect({ ...common, shards: [`${base}/${names[0]}`, `${base}/missing.tar`], errorPolicy: 'warn' });
      expect(partial.stats).toMatchObject({ seen: 5, yielded: 5, readErrors: 1 });
    } finally {
      console.warn = warn;
    }
    expect(reported).toEqual([expect.stringContaining(`read error in ${base}/missing.tar: HTTP 404`)]);
  });
});
