// One benchmark run in a fresh process (so peak RSS and CPU belong to this configuration only): iterate the loader
// over the given shards and print one JSON line with images/s, main-thread CPU and peak RSS.
import { readFileSync } from 'node:fs';
import { createLoader } from '../src/index.js';

const [shardList, workersText, tasksText, epochsText, batchText, recycleText] = process.argv.slice(2);
const recycle = recycleText === 'recycle';
const shards = readFileSync(shardList, 'utf8').trim().split('\n');
const workers = Number(workersText);

/** CPU seconds used by the main thread alone (Linux: /proc/self/task/<pid>/stat, fields utime + stime). */
function mainThreadCpuSeconds(): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  } catch {
    return NaN; // not Linux: the column shows NaN
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks at USER_HZ = 100
}

const loader = createLoader({
  shards,
  batchSize: Number(batchText),
  imageSize: 224,
  patchSize: 14,
  transform: 'train',
  workers,
  tasksPerWorker: Number(tasksText),
  epochs: Number(epochsText),
  seed: 1,
});
let images = 0;
let first: { t: number; cpu: number; images: number; all: NodeJS.CpuUsage } | undefined;
for await (const batch of loader) {
  images += batch.batchSize;
  if (recycle) loader.recycle(batch); // as a trainer does once the batch is copied into a tensor
  // Steady state: measure from the first batch on (pool start-up and worker compilation excluded).
  first ??= { t: performance.now(), cpu: mainThreadCpuSeconds(), images, all: process.cpuUsage() };
}
const seconds = (performance.now() - first!.t) / 1000;
const cpu = mainThreadCpuSeconds() - first!.cpu;
const all = process.cpuUsage(first!.all);
const stats = loader.stats();
console.log(
  JSON.stringify({
    workers,
    tasksPerWorker: Number(tasksText),
    recycle,
    images,
    imagesPerSecond: (images - first!.images) / seconds,
    mainThreadCpuPercent: (100 * cpu) / seconds,
    // CPU time of every thread (main, workers, libuv/libvips) per image: the load-independent cost.
    cpuMsPerImage: (all.user + all.system) / 1000 / (images - first!.images),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    rejected: stats.rejectedTotal,
  }),
);
