// libuv's thread pool, which sharp decodes on: sizing it for a program, and warning when it is too small for the
// images the loader keeps in flight.
import { availableParallelism } from 'node:os';

const libuvWarnings = new Set<string>(); // each distinct warning once per process

/**
 * For a program's entry point, before any asynchronous I/O: sizes libuv's thread pool (which sharp decodes on) for
 * `workers` x `tasksPerWorker` images in flight. libuv reads UV_THREADPOOL_SIZE once, when the pool first starts,
 * so this must run before anything uses the pool; an explicit UV_THREADPOOL_SIZE is left as it is.
 */
export function reserveDecodeThreads(workers = availableParallelism(), tasksPerWorker = 2): void {
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, workers * tasksPerWorker));
}

/**
 * sharp's decodes run on libuv's thread pool, one per process (UV_THREADPOOL_SIZE, default 4, fixed once Node first
 * uses it): more images in flight than threads wait in a queue however many workers there are.
 */
export function warnIfLibuvPoolIsSmall(imagesInFlight: number): void {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  if (imagesInFlight <= threads) return;
  const message =
    `@aim/data: ${imagesInFlight} images in flight (workers x tasksPerWorker) but libuv has ${threads} threads for sharp; ` +
    `start Node with UV_THREADPOOL_SIZE=${imagesInFlight} to decode them all at once`;
  if (libuvWarnings.has(message)) return;
  libuvWarnings.add(message);
  process.emitWarning(message);
}
