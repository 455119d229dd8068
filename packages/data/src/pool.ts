// The Piscina pool that runs worker.ts: from sources under tsx (tests, scripts) or worker.js from dist after a build.

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

export interface PoolOptions {
  /** Worker threads; default: the number of cores. */
  workers?: number;
  /** Tasks each thread holds at once; default 1, so W workers use about W cores (sharp decodes on libuv threads). */
  tasksPerWorker?: number;
  /** A worker module exporting the same default function as worker.ts (for instrumentation); default worker.ts/js. */
  workerFile?: string | URL;
  /** Errors of the pool itself, not of a task (e.g. a worker's stray message while the pool shuts down). */
  onError?: (err: Error) => void;
}

/** Where the worker module is, and how to load it: a .ts worker needs tsx and the @aim/source condition. */
export function workerLocation(workerFile?: string | URL): { filename: string; execArgv: string[] | undefined } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const file = workerFile ? new URL(workerFile.toString(), here) : new URL(fromSource ? './worker.ts' : './worker.js', here);
  const needsTsx = file.pathname.endsWith('.ts');
  return {
    filename: file.href,
    execArgv: needsTsx ? ['--conditions=@aim/source', '--import', 'tsx'] : undefined,
  };
}

export function createPool(options: PoolOptions = {}): Piscina {
  const workers = options.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const { filename, execArgv } = workerLocation(options.workerFile);
  const pool = new Piscina({
    filename,
    ...(execArgv ? { execArgv } : {}),
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: options.tasksPerWorker ?? 1,
    idleTimeout: 60_000,
    recordTiming: false, // Piscina's latency histograms are unused here
  });
  // Piscina emits pool-level errors as 'error' events: without a listener Node turns them into a process crash.
  pool.on('error', options.onError ?? ((err: Error) => process.emitWarning(`@aim/data worker pool: ${err.message}`)));
  return pool;
}
