// sharp alone with N images in flight (libuv threads, libvips concurrency 1 each), in a fresh process: the ceiling
// that the loader with N images in flight (workers x tasksPerWorker) can approach on this machine. One JSON line.
import { readFileSync } from 'node:fs';
import { readSamples } from '@aim/webdataset';
import sharp from 'sharp';

const [shardList, inFlightText, secondsText] = process.argv.slice(2);
const inFlight = Number(inFlightText);
sharp.concurrency(1);
sharp.cache(false);
const images: Uint8Array[] = [];
for await (const s of readSamples(readFileSync(shardList, 'utf8').trim().split('\n'))) images.push(s.jpg as Uint8Array);
const resize = (b: Uint8Array) => sharp(b).resize(224, 224, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
for (const b of images.slice(0, 2 * inFlight)) await resize(b); // warm-up
let next = 0;
let done = 0;
const end = performance.now() + Number(secondsText) * 1000;
const cpu = process.cpuUsage();
const start = performance.now();
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) {
      await resize(images[next++ % images.length]);
      done++;
    }
  }),
);
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ inFlight, imagesPerSecond: done / ((performance.now() - start) / 1000), cpuMsPerImage: (used.user + used.system) / 1000 / done }));
