// Benchmark: readSamples over local shards vs. the raw sequential read rate of the same files (fs stream),
// with the page cache warm (parser cost) and cold (storage-bound, as when training from disk).
// Run: npx nx run webdataset:bench   (options: --dir <cache dir> --mb <dataset size> --reps <n> --chunk <read size, both readers>)
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRng, readSamples, ShardWriter } from '../src/index.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: join(tmpdir(), 'aim-wds-bench') },
    mb: { type: 'string', default: '300' },
    reps: { type: 'string', default: '5' },
    chunk: { type: 'string', default: String(1024 * 1024) },
  },
});
const targetBytes = Number(values.mb) * 1e6;
const reps = Number(values.reps);
const SAMPLES_PER_SHARD = 1000;

/** Samples shaped like web image-text data: a JPEG-sized payload (20-200 kB), a caption, a label, metadata. */
async function generate(dir: string): Promise<string[]> {
  const marker = join(dir, 'dataset.json');
  const expected = JSON.stringify({ version: 1, targetBytes, SAMPLES_PER_SHARD });
  try {
    if ((await readFile(marker, 'utf8')) === expected) {
      const { shards } = JSON.parse(await readFile(join(dir, 'shards.json'), 'utf8')) as { shards: string[] };
      return shards;
    }
  } catch {
    // not generated yet
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  process.stderr.write(`generating ~${values.mb} MB of shards in ${dir} ...\n`);
  const rng = createRng(1);
  const writer = new ShardWriter({ pattern: join(dir, 'bench-%06d.tar'), maxCount: SAMPLES_PER_SHARD });
  let bytes = 0;
  const noise = new Uint8Array(256 * 1024).map(() => rng.int(256));
  for (let i = 0; bytes < targetBytes; i++) {
    const size = 20_000 + rng.int(180_000);
    const offset = rng.int(noise.length - size);
    const jpg = noise.slice(offset, offset + size);
    await writer.write({
      __key__: `img${String(i).padStart(8, '0')}`,
      jpg,
      txt: `a photo of sample number ${i} in the benchmark set`,
      cls: rng.int(1000),
      json: { width: 256 + rng.int(512), height: 256 + rng.int(512), source: `https://example.invalid/${i}.jpg` },
    });
    bytes += size;
  }
  const shards = await writer.close();
  await writeFile(join(dir, 'shards.json'), JSON.stringify({ shards }));
  await writeFile(marker, expected);
  return shards;
}

async function rawRead(shards: string[]): Promise<number> {
  let bytes = 0;
  for (const shard of shards) {
    for await (const chunk of createReadStream(shard, { highWaterMark: Number(values.chunk) })) bytes += (chunk as Buffer).length;
  }
  return bytes;
}

/** Peak resident memory seen while reading, in bytes (sampled every 100 samples). */
let peakRss = 0;

async function wdsRead(shards: string[]): Promise<{ samples: number; payload: number }> {
  let samples = 0;
  let payload = 0;
  for await (const sample of readSamples(shards, { fileChunkSize: Number(values.chunk) })) {
    samples++;
    payload += (sample.jpg as Uint8Array).length;
    if (samples % 100 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
  return { samples, payload };
}

/** Wall time and process CPU time (all threads: the libuv reads count too) of one run. */
async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; cpu: number; result: T }> {
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const result = await fn();
  const cpu = process.cpuUsage(cpuStart);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: (cpu.user + cpu.system) / 1e6, result };
}

/** Drop the shards from the page cache (posix_fadvise DONTNEED through python3), so the next read hits storage. */
function evict(files: string[]): void {
  const script = 'import os, sys\nfor p in sys.argv[1:]:\n    fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)';
  const result = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cannot evict the shards from the page cache with python3: ${result.stderr || result.error}`);
}

const shards = await generate(values.dir);
let fileBytes = 0;
let maxShard = 0;
for (const s of shards) {
  const size = (await stat(s)).size;
  fileBytes += size;
  maxShard = Math.max(maxShard, size);
}
const mb = fileBytes / 1e6;
console.log(`dataset: ${shards.length} shards, ${mb.toFixed(1)} MB, ${values.chunk}-byte reads, in ${values.dir}`);
// Untimed warm-up: lets the JIT settle for both readers; it also measures memory while streaming every shard.
await rawRead(shards);
const rssBefore = process.memoryUsage.rss();
await wdsRead(shards);
console.log(
  `memory: resident ${(rssBefore / 1e6).toFixed(0)} MB before reading, peak ${(peakRss / 1e6).toFixed(0)} MB while streaming ` +
    `${mb.toFixed(0)} MB of shards (largest shard ${(maxShard / 1e6).toFixed(1)} MB)`,
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs: number[]) => Math.min(...xs);
const line = (name: string, seconds: number, extra = '') =>
  `${name.padEnd(12)} ${(mb / seconds).toFixed(0).padStart(6)} MB/s${extra}  (${seconds.toFixed(3)} s)`;

for (const cache of ['warm', 'cold'] as const) {
  const raw: number[] = [];
  const ours: number[] = [];
  const rawCpu: number[] = [];
  const oursCpu: number[] = [];
  let samples = 0;
  for (let r = 0; r < reps; r++) {
    if (cache === 'cold') evict(shards);
    const base = await time(() => rawRead(shards));
    raw.push(base.seconds);
    rawCpu.push(base.cpu);
    if (cache === 'cold') evict(shards);
    const run = await time(() => wdsRead(shards));
    ours.push(run.seconds);
    oursCpu.push(run.cpu);
    samples = run.result.samples;
  }
  console.log(`page cache ${cache}${cache === 'cold' ? ' (evicted before every run)' : ''}, ${reps} runs each:`);
  for (const [label, pick] of [
    ['median', median],
    ['best', best],
  ] as const) {
    const rawS = pick(raw);
    const oursS = pick(ours);
    console.log(`  ${label}:`);
    console.log(`    ${line('raw fs read', rawS)}`);
    console.log(`    ${line('readSamples', oursS, `, ${(samples / oursS).toFixed(0)} samples/s`)}`);
    console.log(`    ratio readSamples / raw: ${(rawS / oursS).toFixed(2)} (target >= 0.80)`);
  }
  // CPU seconds per pass are less disturbed by other load on the machine than wall time.
  const [rc, oc] = [median(rawCpu), median(oursCpu)];
  console.log(`  CPU time per pass (median): raw ${rc.toFixed(3)} s, readSamples ${oc.toFixed(3)} s, ratio ${(rc / oc).toFixed(2)}`);
}
