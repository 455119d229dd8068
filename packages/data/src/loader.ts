// createLoader: WebDataset shards in, PatchBatch out. The main thread reads and mixes shards, runs the cheap
// filters, and hands encoded images to a Piscina pool (worker.ts) with a bounded window of tasks; results are
// reassembled in stream order (or as they finish) into batches, and every sample is accounted for.
// The parts: options (loader-options.ts), main-thread checks (sample-checks.ts), worker tasks with retry
// (worker-tasks.ts), the shared-memory slots (slot-ring.ts), batch buffers (batch-buffers.ts), accounting
// (loader-accounting.ts), libuv's decode threads (decode-threads.ts). This module orders and resumes.
// References: webdataset (Python) RandomMix / with_epoch; torch DataLoader drop_last; docs/aim-spec.md (DFN-2B+ mixing).

import { randomMix, readSamples, type Sample } from '@aim/webdataset';
import { BatchBuffers } from './batch-buffers.js';
import { LoaderAccounting } from './loader-accounting.js';
import { resolveLoaderOptions } from './loader-options.js';
import type { LoaderOptions, LoaderPosition, Outcome, PatchBatch, PatchLoader } from './loader-types.js';
import type { SampleTask } from './process.js';
import { checkSample } from './sample-checks.js';
import { BlockOwner } from './share.js';
import { SlotRing } from './slot-ring.js';
import { WorkerTasks } from './worker-tasks.js';

interface Pending {
  outcome: Promise<Outcome>;
  /** With `share`: the sample's raw index in its epoch (the position after it, once consumed, is index + 1). */
  rawIndex?: number;
  settled: Outcome | undefined;
  /** The ring slot the worker writes into (released when the outcome is consumed); none when no worker runs. */
  slot?: number;
}

/** Builds the loader; nothing is read and no thread starts until iteration begins. */
export function createLoader(options: LoaderOptions): PatchLoader {
  const resolved = resolveLoaderOptions(options);
  const { batchSize, numPatches, patchDim, prefetch, mode, seed, epochs, ordered, policy, rank, worldSize, sources, transform, limits } = resolved;
  const accounting = new LoaderAccounting(policy, options.onReject, options.resume?.epoch ?? 0, options.share !== undefined);
  const position: LoaderPosition = { epoch: options.resume?.epoch ?? 0, samplesInEpoch: options.resume?.samplesInEpoch ?? 0 };
  // A resume position without block fields is a step boundary: blocks are labelled from there.
  const owner = options.share
    ? new BlockOwner(options.share, batchSize, {
        blockStart: options.resume?.blockStart ?? position.samplesInEpoch,
        blockLabel: options.resume?.blockLabel ?? 0,
      })
    : undefined;
  let closed = false;
  let started = false;
  let generator: AsyncGenerator<PatchBatch> | undefined;
  const per = numPatches * patchDim;
  let ring: SlotRing; // allocated when iteration starts
  const tasks = new WorkerTasks({
    workers: resolved.workers,
    tasksPerWorker: resolved.tasksPerWorker,
    ...(options.workerFile ? { workerFile: options.workerFile } : {}),
    closed: () => closed,
  });
  const buffers = new BatchBuffers(batchSize, numPatches, patchDim, options.labelKey !== undefined || sources.some((s) => s.labelKey !== undefined));

  /** The samples of one epoch, mixed across sources by weight with a seeded draw per sample. */
  async function* epochSamples(epoch: number): AsyncGenerator<{ item: Sample; source: number }> {
    accounting.startReaders();
    const readers = sources.map((s) =>
      readSamples(s.shards, {
        seed,
        epoch,
        shuffleShards: options.shuffleShards ?? mode === 'train',
        ...(options.shuffleBuffer ? { shuffle: options.shuffleBuffer } : {}),
        ...(worldSize > 1 ? { node: { rank, worldSize } } : {}),
        ...(options.resampled ? { resampled: true } : {}),
        errorPolicy: policy === 'raise' ? 'raise' : 'skip',
        onError: accounting.onReadError,
        ...(options.http ? { http: options.http } : {}),
      }),
    );
    // An exhausted source leaves the mixture; the others keep their relative weights.
    const mixed = randomMix(readers, { weights: resolved.weights, seed, epoch });
    if (options.samplesPerEpoch === undefined) return yield* mixed;
    let count = 0;
    for await (const sample of mixed) {
      yield sample;
      if (++count >= options.samplesPerEpoch) return;
    }
  }

  /** Main-thread checks, then the worker task (retried once when the worker throws or dies). */
  function dispatch(sample: Sample, source: number, epoch: number, index: number): Pending {
    const key = sample.__key__;
    const url = sample.__url__;
    accounting.read(sample);
    const checked = checkSample(sample, {
      imageKeys: resolved.imageKeys,
      predicates: resolved.predicates,
      labelKey: sources[source].labelKey ?? options.labelKey,
    });
    if (!checked.ok) return { outcome: Promise.resolve(checked), settled: checked };
    const { imageExt, label } = checked;

    const bytes = sample[imageExt] as Uint8Array;
    // Keys can repeat across sources and, when resampling, within one: make the augmentation seed unique per draw.
    const rngKey = `${sources.length > 1 ? `${source}/` : ''}${key}${options.resampled ? `#${index}` : ''}`;
    const slot = ring.take();
    // Posting clones the bytes into the worker (a memcpy; the reader's copy stays here for a retry). A view into a
    // larger buffer is cut out first, as a clone would carry the whole buffer.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    const task: SampleTask = { key: rngKey, bytes: own, seed, epoch, transform, limits, out: { buffer: ring.buffer, offset: slot * per } };
    const outcome = tasks
      .run(task)
      .then((result): Outcome => (result.ok ? { ok: true, key, label, slot } : { ok: false, key, url, reason: result.reason, message: result.message }));
    const pending: Pending = { outcome, settled: undefined, slot };
    pending.outcome.then(
      (o) => (pending.settled = o),
      () => undefined, // only after close(); nobody waits for it then
    );
    return pending;
  }

  async function* run(): AsyncGenerator<PatchBatch> {
    if (closed) return; // closed before iterating: the pools are already destroyed, a pool made now would outlive them
    accounting.start();
    ring = new SlotRing(prefetch, per);
    tasks.start();
    try {
      yield* batches();
    } catch (err) {
      if (!closed) throw err; // after close(), in-flight tasks fail with the pool; that is not an error
    } finally {
      closed = true;
      await tasks.destroy();
    }
  }

  async function* batches(): AsyncGenerator<PatchBatch> {
    for (let epoch = position.epoch; epoch < epochs && !closed; epoch++) {
      const skip = epoch === position.epoch ? position.samplesInEpoch : 0;
      position.epoch = epoch;
      position.samplesInEpoch = skip;
      accounting.startEpoch(epoch);
      const stream = epochSamples(epoch);
      let index = 0;
      let exhausted = false;
      const window: Pending[] = [];
      let workerTasks = 0;
      let consumedInEpoch = skip;
      let batch = buffers.newBatch(epoch);
      try {
        while (!closed) {
          while (!exhausted && workerTasks < prefetch && window.length < 4 * prefetch) {
            const next = await stream.next();
            if (next.done) {
              exhausted = true;
              break;
            }
            if (index < skip) {
              index++; // resuming: these samples were consumed before the checkpoint
              continue;
            }
            if (owner && !owner.owns(index)) {
              index++; // another rank decodes it: not seen, not rejected, no worker task
              accounting.otherRank();
              continue;
            }
            const pending = dispatch(next.value.item, next.value.source, epoch, index++);
            if (owner) pending.rawIndex = index - 1;
            if (pending.slot !== undefined) workerTasks++;
            window.push(pending);
          }
          if (window.length === 0 || closed) break;
          let pending: Pending;
          if (ordered) {
            pending = window.shift()!;
          } else {
            const done = window.findIndex((p) => p.settled !== undefined);
            const at = done >= 0 ? done : await Promise.race(window.map((p, i) => p.outcome.then(() => i)));
            pending = window.splice(at, 1)[0];
          }
          const outcome = await pending.outcome;
          if (outcome.ok) batch.add(outcome.key, outcome.label, ring.view(outcome.slot));
          if (pending.slot !== undefined) {
            workerTasks--;
            ring.release(pending.slot);
          }
          // With a share, the other ranks' samples since the last consumed one are passed over too.
          consumedInEpoch = pending.rawIndex !== undefined ? pending.rawIndex + 1 : consumedInEpoch + 1;
          accounting.consumed(outcome);
          if (batch.count === batchSize) {
            const full = batch.finish();
            batch = buffers.newBatch(epoch);
            yield emit(full, consumedInEpoch);
          }
        }
      } finally {
        await stream.return(undefined);
      }
      if (closed) break;
      if (skip === 0 && index === 0) accounting.failIfNothingRead(epoch);
      if (batch.count > 0) {
        if (options.dropLast) {
          accounting.dropped(batch.count);
        } else {
          yield emit(batch.finish(), consumedInEpoch);
        }
      }
      position.epoch = epoch + 1;
      position.samplesInEpoch = 0;
      owner?.nextEpoch(index, options.dropLast === true);
    }
  }

  function emit(b: PatchBatch, consumedInEpoch: number): PatchBatch {
    accounting.emitted(b.batchSize);
    position.samplesInEpoch = consumedInEpoch;
    return b;
  }

  return {
    [Symbol.asyncIterator]() {
      if (started) throw new Error('createLoader: a loader can be iterated once; create another for a second pass');
      started = true;
      generator = run();
      return generator;
    },
    stats() {
      return accounting.snapshot();
    },
    position() {
      return { ...position, ...owner?.anchor };
    },
    recycle(batch: PatchBatch) {
      buffers.recycle(batch);
    },
    async close() {
      closed = true;
      // Destroying the pool first fails any task the generator is waiting on, so it cannot hang.
      await tasks.destroy();
      if (generator) await generator.return(undefined);
    },
  };
}
