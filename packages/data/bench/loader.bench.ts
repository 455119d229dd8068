// `npx nx run data:bench`: the loader's throughput against sharp alone, on about-500-px real photos, image 224,
// patch 14, train transform. Prints the single-thread sharp-only rate, then the loader at 1..N workers. "cores busy"
// is images/s x CPU per image: how many cores a row really used (a worker with 2 images in flight can use more than 1).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_LIMITS, defaultTransformOptions, processSample } from '../src/index.js';
import { photoVariants, writePhotoShards } from './photos.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 300);
/** Each loader run lasts about this long (epochs are sized from the sharp-only rate). */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const BATCH = 64;
const cores = availableParallelism();
const maxWorkers = Number(process.env.BENCH_MAX_WORKERS ?? cores);
/** Worker counts to run: BENCH_WORKERS="1,2,4" or every count from 1 to the number of cores. */
const workerCounts = process.env.BENCH_WORKERS ? process.env.BENCH_WORKERS.split(',').map(Number) : Array.from({ length: maxWorkers }, (_, i) => i + 1);
// From sources the runner needs tsx; from a bundle (run-loader.js beside this file) it does not.
const fromSource = import.meta.url.endsWith('.ts');
const script = (name: string): string[] => {
  const path = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, import.meta.url).pathname;
  return fromSource ? ['--conditions=@aim/source', '--import', 'tsx', path] : [path];
};
const child = (name: string, args: (string | number)[], threads: number) =>
  JSON.parse(
    execFileSync(process.execPath, [...script(name), ...args.map(String)], {
      encoding: 'utf8',
      env: { ...process.env, UV_THREADPOOL_SIZE: String(Math.max(4, threads)) },
    })
      .trim()
      .split('\n')
      .pop()!,
  );

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
console.log(`@aim/data benchmark: ${cores} cores, load average at start ${load()}`);
const images = await photoVariants(IMAGES);
const sizes = await Promise.all(images.slice(0, 50).map((b) => sharp(b).metadata()));
const meanSide = sizes.reduce((s, m) => s + Math.max(m.width!, m.height!), 0) / sizes.length;
console.log(
  `${IMAGES} JPEG photo variants, longer side ~${meanSide.toFixed(0)} px, ${(images.reduce((s, b) => s + b.length, 0) / IMAGES / 1024).toFixed(0)} KiB each`,
);

// Single-thread sharp only: decode + resize to 224x224 (bicubic) of the same files, one at a time, no pool.
sharp.concurrency(1);
sharp.cache(false);
async function rate(label: string, work: (b: Buffer, i: number) => Promise<unknown>, passes = 2): Promise<{ perSecond: number; cpuMs: number }> {
  for (let i = 0; i < 20; i++) await work(images[i], i); // warm-up
  const t = performance.now();
  const cpu = process.cpuUsage();
  let n = 0;
  for (let p = 0; p < passes; p++) for (const [i, b] of images.entries()) await work(b, i), n++;
  const used = process.cpuUsage(cpu);
  const perSecond = n / ((performance.now() - t) / 1000);
  const cpuMs = (used.user + used.system) / 1000 / n;
  console.log(`${label.padEnd(60)} ${perSecond.toFixed(1)} images/s, ${cpuMs.toFixed(2)} ms CPU/image`);
  return { perSecond, cpuMs };
}
const sharpOnly = await rate('sharp only, 1 thread (decode + resize 224, bicubic)', (b) =>
  sharp(b).resize(224, 224, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer(),
);
const transform = defaultTransformOptions({ imageSize: 224, patchSize: 14, mode: 'train' });
const slot = new SharedArrayBuffer(256 * 588 * 4);
const workerFunction = await rate('worker function in-process, 1 thread (full train transform)', (b, i) =>
  processSample({ key: `photo${i}`, bytes: b, seed: 1, epoch: 0, transform, limits: DEFAULT_LIMITS, out: { buffer: slot, offset: 0 } }),
);
const sharpRate = sharpOnly.perSecond;

const dir = mkdtempSync(join(tmpdir(), 'aim-data-bench-'));
try {
  const shards = await writePhotoShards(dir, images, 100);
  const list = join(dir, 'shards.txt');
  writeFileSync(list, shards.join('\n'));
  console.log(`\n${shards.length} shards of ${IMAGES} images in all, ~${SECONDS} s per run, batch ${BATCH}, 224 px, patch 14, train transform`);
  const rows: string[] = [
    '| workers W | images per worker | recycle() | loader images/s | target 0.85 x W x sharp-only | loader / (W x sharp-only) | sharp alone, same images in flight | loader / sharp alone | CPU ms/image, all threads (sharp-only: ' +
      sharpOnly.cpuMs.toFixed(2) +
      ') | cores busy | main-thread CPU | peak RSS |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const sharpAt = new Map<number, number>();
  // Every W with the default 2 images per worker and with 1 (one core per worker), then the widest W without recycle().
  const last = workerCounts[workerCounts.length - 1];
  const runs: [number, number, boolean][] = [
    ...workerCounts.flatMap((w): [number, number, boolean][] => [
      [w, 2, true],
      [w, 1, true],
    ]),
    [last, 2, false],
  ];
  let widest = { cpuMsPerImage: NaN };
  for (const [w, tasks, recycle] of runs) {
    const inFlight = w * tasks;
    if (!sharpAt.has(inFlight)) sharpAt.set(inFlight, child('run-sharp', [list, inFlight, SECONDS], inFlight).imagesPerSecond);
    const epochs = Math.max(2, Math.ceil((SECONDS * w * sharpRate) / IMAGES));
    const r = child('run-loader', [list, w, tasks, epochs, BATCH, recycle ? 'recycle' : 'fresh'], inFlight);
    if (w === last && tasks === 2 && recycle) widest = r;
    const target = 0.85 * w * sharpRate;
    const alone = sharpAt.get(inFlight)!;
    rows.push(
      `| ${w} | ${tasks} | ${recycle ? 'yes' : 'no'} | ${r.imagesPerSecond.toFixed(1)} | ${target.toFixed(1)} | ${(r.imagesPerSecond / (w * sharpRate)).toFixed(2)} | ${alone.toFixed(1)} | ${(r.imagesPerSecond / alone).toFixed(2)} | ${r.cpuMsPerImage.toFixed(2)} | ${((r.imagesPerSecond * r.cpuMsPerImage) / 1000).toFixed(2)} | ${r.mainThreadCpuPercent.toFixed(1)}% | ${r.peakRssMiB.toFixed(0)} MiB |`,
    );
    console.log(rows[rows.length - 1]);
  }
  console.log(`\n${rows.join('\n')}\n`);
  pythonReference(list, workerFunction.cpuMs, widest);
  console.log(`\nload average at end ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * bench/pillow_reference.py on the same shards, when a Python with Pillow, NumPy, torch and torchvision is here
 * (Debian: apt-get install python3-torchvision python3-pil): the per-core comparison with Python, in this run.
 * Ours per core = 1000 / CPU ms per image of all threads (the loader's rows count every thread, main included).
 */
function pythonReference(shardList: string, workerCpuMs: number, loader: { cpuMsPerImage: number }): void {
  const python = ['python3', '/usr/bin/python3'].find((exe) => {
    try {
      execFileSync(exe, ['-c', 'import PIL, numpy, torch, torchvision'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) {
    console.log('Python reference skipped: no python3 with Pillow, NumPy, torch and torchvision (apt-get install python3-torchvision)');
    return;
  }
  const script = new URL('./pillow_reference.py', import.meta.url).pathname;
  const lines = execFileSync(python, [script, shardList], { encoding: 'utf8' }).trim().split('\n');
  const rates = new Map(lines.map((l) => [l.slice(0, l.lastIndexOf(':')), Number(l.slice(l.lastIndexOf(':') + 1))]));
  for (const [label, r] of rates) console.log(`${`Python, 1 thread: ${label}`.padEnd(70)} ${r.toFixed(1)} images/s`);
  const transform = rates.get('Pillow + torchvision train transform')!;
  const pipeline = rates.get('tarfile + Pillow + torchvision, batches of 64')!;
  console.log(
    `per core, the transform alone: worker function ${(1000 / workerCpuMs).toFixed(1)} vs Pillow + torchvision ${transform.toFixed(1)} images/s = ${(1000 / workerCpuMs / transform).toFixed(2)}`,
  );
  console.log(
    `per core, shards to batches: loader ${(1000 / loader.cpuMsPerImage).toFixed(1)} vs tarfile + Pillow + torchvision ${pipeline.toFixed(1)} images/s = ${(1000 / loader.cpuMsPerImage / pipeline).toFixed(2)}`,
  );
}
