// Runs the training data loader on its own thread (loader-worker.ts) and exposes it as TrainData.
// Why: wasm/cpu steps compute synchronously on the main thread; a loader there only advances between steps and the
// step waits for it. On its own thread the loader keeps reading and batching during the step.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LoaderOptions } from '@aim/data';
import type { FromLoaderWorker, LoaderWorkerData, ToLoaderWorker } from './loader-worker.js';
import type { PositionedBatch, TrainData } from './run-parts.js';

/**
 * The worker's entry script. From TypeScript sources (tests, `node --import tsx`), it first registers tsx in the
 * worker: Node 20 does not apply `--import` hooks to a worker's entry, so the module is imported after `register()`.
 */
function workerEntry(): { code: string; execArgv: string[] | undefined } {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './loader-worker.ts' : './loader-worker.js', import.meta.url).href;
  if (!fromSource) return { code: `import(${JSON.stringify(url)});`, execArgv: undefined };
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  return {
    code: `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); });`,
    execArgv: ['--conditions=@aim/source'],
  };
}

/** Opens `options` in a loader thread that keeps up to `window` batches ready. Only plain-data options cross over. */
export function openLoaderThread(options: LoaderOptions, window: number): TrainData {
  if (options.filters?.predicates || options.onReject || options.workerFile) {
    throw new Error('openLoaderThread: predicates, onReject and workerFile cannot cross a thread boundary');
  }
  const { code, execArgv } = workerEntry();
  const data: LoaderWorkerData = { loader: options, window };
  const worker = new Worker(code, { eval: true, workerData: data, ...(execArgv ? { execArgv } : {}) });
  const queue: FromLoaderWorker[] = [];
  let waiting: (() => void) | undefined;
  let stats: Record<string, unknown> = {};
  let closing = false;
  let exited = false;
  let closed: (() => void) | undefined;
  const closedPromise = new Promise<void>((resolve) => (closed = resolve));

  worker.on('message', (msg: FromLoaderWorker) => {
    if (msg.type !== 'error') stats = msg.stats;
    if (msg.type === 'closed') {
      closed?.();
      return;
    }
    queue.push(msg);
    waiting?.();
  });
  worker.on('error', (err) => {
    // After close() the decode pool may complain while shutting down; before, it is a real failure.
    if (!closing) queue.push({ type: 'error', message: err.message, stack: err.stack });
    waiting?.();
    closed?.();
  });
  worker.on('exit', () => {
    exited = true;
    if (!closing) queue.push({ type: 'error', message: 'the data-loader thread exited unexpectedly' });
    waiting?.();
    closed?.();
  });

  const send = (msg: ToLoaderWorker): void => {
    if (!exited) worker.postMessage(msg);
  };

  async function* batches(): AsyncGenerator<PositionedBatch> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
      const msg = queue.shift()!;
      if (msg.type === 'end') return;
      if (msg.type === 'error') throw new Error(`data loader: ${msg.message}`);
      if (msg.type !== 'batch') continue;
      send({ type: 'credit' });
      yield {
        patches: msg.patches,
        batchSize: msg.batchSize,
        numPatches: msg.numPatches,
        patchDim: msg.patchDim,
        dataPosition: msg.position,
      };
    }
  }

  return {
    batches: batches(),
    stats: () => stats,
    close: async () => {
      if (closing) return;
      closing = true;
      send({ type: 'close' });
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
      await Promise.race([closedPromise, timeout]);
      await worker.terminate();
    },
  };
}
