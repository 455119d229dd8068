// The Piscina worker module: one exported function from a serialisable SampleTask to a SampleResult. Patches come
// back without a copy: written into the caller's SharedArrayBuffer slot, or in their own buffer moved (transferred).

import { Piscina } from 'piscina';
import sharp from 'sharp';
import { processSample, type SampleResult, type SampleTask } from './process.js';

// Parallelism comes from the pool's threads; libvips' own threads and its operation cache would only contend.
sharp.concurrency(1);
sharp.cache(false);

export default async function runTask(task: SampleTask): Promise<SampleResult> {
  const result = await processSample(task);
  // Patches written into the caller's shared slot travel back as a view on shared memory: nothing to move.
  if (!result.ok || task.out) return result;
  // A Transferable wrapper: Piscina posts `result` and moves the patch buffer in the transfer list.
  const movable = {
    [Piscina.transferableSymbol]: result.patches.buffer,
    [Piscina.valueSymbol]: result,
  } as unknown as Parameters<typeof Piscina.move>[0];
  return Piscina.move(movable) as unknown as SampleResult;
}
