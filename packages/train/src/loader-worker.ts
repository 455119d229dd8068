// Worker thread that runs an @aim/data loader and posts its batches (pixel buffers transferred, not copied), so the
// loader's main-thread work (tar reading, task dispatch, batching) continues while the trainer's step blocks its thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createLoader, type LoaderOptions } from '@aim/data';

export interface LoaderWorkerData {
  readonly loader: LoaderOptions;
  /** Batches posted ahead of the consumer's credits. */
  readonly window: number;
}

export type ToLoaderWorker = { readonly type: 'credit' } | { readonly type: 'close' };

export type FromLoaderWorker =
  | {
      readonly type: 'batch';
      readonly patches: Float32Array;
      readonly batchSize: number;
      readonly numPatches: number;
      readonly patchDim: number;
      readonly position: Record<string, unknown>;
      readonly stats: Record<string, unknown>;
    }
  | { readonly type: 'end'; readonly stats: Record<string, unknown> }
  | { readonly type: 'error'; readonly message: string; readonly stack?: string }
  | { readonly type: 'closed'; readonly stats: Record<string, unknown> };

const port = parentPort!;
const { loader: options, window } = workerData as LoaderWorkerData;
const loader = createLoader(options);
let credits = window;
let closing = false;
let wake: (() => void) | undefined;

port.on('message', (msg: ToLoaderWorker) => {
  if (msg.type === 'credit') credits += 1;
  if (msg.type === 'close') closing = true;
  wake?.();
});

const post = (msg: FromLoaderWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

async function run(): Promise<void> {
  try {
    for await (const b of loader) {
      while (credits <= 0 && !closing) await new Promise<void>((resolve) => (wake = resolve));
      if (closing) break;
      credits -= 1;
      post(
        {
          type: 'batch',
          patches: b.patches,
          batchSize: b.batchSize,
          numPatches: b.numPatches,
          patchDim: b.patchDim,
          position: { ...loader.position() },
          stats: { ...loader.stats() },
        },
        [b.patches.buffer as ArrayBuffer],
      );
    }
    if (!closing) post({ type: 'end', stats: { ...loader.stats() } });
  } catch (err) {
    if (!closing) post({ type: 'error', message: (err as Error).message ?? String(err), stack: (err as Error).stack });
  }
  // Wait for the close request, then stop the decode pool and report final counts.
  while (!closing) await new Promise<void>((resolve) => (wake = resolve));
  await loader.close();
  post({ type: 'closed', stats: { ...loader.stats() } });
  port.close();
}

void run();
