// Benchmark: readSamples over local shards vs. the raw sequential read rate of the same files (fs stream).
// Run: npx nx run webdataset:bench   (options: --dir <cache dir> --mb <dataset size> --reps <n> --chunk <read size, both readers>)
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
const SAMPLES_PER_SHARD = 200;

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

async function wdsRead(shards: string[]): Promise<{ samples: number; payload: number }> {
  let samples = 0;
  let payload = 0;
  for await (const sample of readSamples(shards, { fileChunkSize: Number(values.chunk) })) {
    samples++;
    payload += (sample.jpg as Uint8Array).length;
  }
  return { samples, payload };
}

async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

const shards = await generate(values.dir);
let fileBytes = 0;
for (const s of shards) fileBytes += (await stat(s)).size;
const mb = fileBytes / 1e6;
console.log(`dataset: ${shards.length} shards, ${mb.toFixed(1)} MB in ${values.dir} (page cache warm: both readers see the same storage state)`);
// Untimed warm-up: fills the page cache (both readers then see the same storage state) and lets the JIT settle.
await rawRead(shards);
await wdsRead(shards);

const raw: number[] = [];
const ours: number[] = [];
let samples = 0;
for (let r = 0; r < reps; r++) {
  raw.push((await time(() => rawRead(shards))).seconds);
  const run = await time(() => wdsRead(shards));
  ours.push(run.seconds);
  samples = run.result.samples;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs: number[]) => Math.min(...xs);
const line = (name: string, seconds: number, extra = '') => `${name.padEnd(13)} ${(mb / seconds).toFixed(0).padStart(6)} MB/s${extra}  (${seconds.toFixed(3)} s)`;
for (const [label, pick] of [['median', median], ['best', best]] as const) {
  const rawS = pick(raw);
  const oursS = pick(ours);
  console.log(`${label} of ${reps} runs:`);
  console.log(`  ${line('raw fs read', rawS)}`);
  console.log(`  ${line('readSamples', oursS, `, ${(samples / oursS).toFixed(0)} samples/s`)}`);
  console.log(`  ratio readSamples / raw: ${(rawS / oursS).toFixed(2)} (target >= 0.80)`);
}
