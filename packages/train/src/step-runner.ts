// Who computes a training step: the tfjs model (cpu, wasm, tensorflow backends) or the WebGPU engine (@aim/gpu).
// Both draw the same prefix lengths from (run seed, step, micro-batch), weight micro-batches the same way and apply
// the same AdamW, so a run can move between them through a checkpoint. The runner owns the optimizer state: on the
// tfjs path an AdamW beside the model, on the engine the GPU's moments, which go to a checkpoint one tensor at a time
// (the host never holds them; it holds one copy of the weights, the model, refreshed when a checkpoint is written).
import * as tf from '@tensorflow/tfjs-core';
import type { AimEngine, EngineStepStats } from '@aim/gpu';
import { type AimModel, type SafetensorsWriteEntry, tensorEntry } from '@aim/model';
import { AdamW, type AdamWOptions, momentName } from './adamw.js';
import { loadCheckpointModel, readCheckpointMoments } from './checkpoint-state.js';
import { validationPrefixSeed } from './seed.js';
import { NonFiniteLossError, type PatchBatchLike, type PrefixSampler, type StepResult, stepPrefixes, trainStep, validationSums } from './train-step.js';
import { broadcastParameters, type DataParallel } from './data-parallel.js';

export interface StepRunner {
  /** Optimiser step `stepIndex` (0-based) over `micro` at learning rate `lr`; data parallel: this rank's share of it. */
  step(stepIndex: number, micro: readonly PatchBatchLike[], lr: number): Promise<StepResult>;
  /**
   * Whether step() may be called again before its last promise settles: the work is queued in order and each promise
   * settles with its own step's result (the WebGPU engine in one process). Otherwise each step is awaited first.
   */
  readonly queuesSteps: boolean;
  /** Mean loss over every weighted position of `batches`, with the fixed validation prefixes. */
  validate(batches: readonly PatchBatchLike[]): Promise<{ loss: number; images: number }>;
  /** AdamW updates applied so far (bias correction continues from it after a resume). */
  readonly updateCount: number;
  /**
   * What a checkpoint writes: the model, brought up to date, and the AdamW moments as write entries, each read when
   * it is written. Data parallel: every rank calls it at the same steps (rank 0 alone writes).
   */
  checkpoint(): Promise<{ model: AimModel; moments: SafetensorsWriteEntry[] }>;
  /** Releases what the runner holds (not the model). */
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  readonly model: AimModel;
  readonly adamw: AdamWOptions;
  readonly samplePrefixLengths: PrefixSampler;
  readonly runSeed: number;
  readonly clipNorm: number;
  /**
   * Data-parallel processes: each is given and computes only its share of every step's micro-batches (rank r: the
   * step's micro-batches r*n .. (r+1)*n - 1, n = micro.length); rank 0's weights are broadcast.
   */
  readonly parallel?: DataParallel;
  /** A verified checkpoint folder to continue from, and the AdamW updates its state.json records. */
  readonly resume?: { readonly dir: string; readonly updates: number };
}

/** The tfjs model computes every step (the reference path), with AdamW on the same backend. */
export async function tfjsRunner(o: RunnerOptions): Promise<StepRunner> {
  const optimizer = new AdamW(o.model.parameters(), o.adamw);
  try {
    if (o.resume) {
      const { updates } = o.resume;
      await loadCheckpointModel(o.resume.dir, o.model);
      await readCheckpointMoments(o.resume.dir, async (read) => {
        const tensors: Record<string, tf.Tensor> = {};
        try {
          for (const p of o.model.parameters()) {
            for (const which of ['m', 'v'] as const) {
              const name = momentName(which, p.name);
              tensors[name] = tf.tensor(await read(name, p.variable.shape), p.variable.shape);
            }
          }
          optimizer.loadState(tensors, updates);
        } finally {
          Object.values(tensors).forEach((t) => t.dispose());
        }
      });
    }
  } catch (err) {
    optimizer.dispose();
    throw err;
  }
  const comm = o.parallel && o.parallel.size > 1 ? o.parallel : undefined;
  const sharded = comm ? dataParallelTfjs(o, optimizer, comm) : undefined;
  return {
    step: async (stepIndex, micro, lr) =>
      sharded
        ? sharded.step(stepIndex, micro, lr)
        : trainStep({ model: o.model, optimizer, samplePrefixLengths: o.samplePrefixLengths, runSeed: o.runSeed, clipNorm: o.clipNorm }, stepIndex, micro, lr),
    validate: async (batches) => {
      if (sharded) return sharded.validate(batches);
      if (batches.length === 0) throw new Error('validation: the validation data gave no batches');
      const { weighted, positions, images } = validationSums(o.model, o.samplePrefixLengths, batches, () => true);
      return { loss: weighted / positions, images };
    },
    queuesSteps: false, // the tfjs step computes before its promise returns: nothing to overlap
    get updateCount() {
      return optimizer.updateCount;
    },
    checkpoint: async () => ({
      model: o.model,
      moments: Object.entries(optimizer.stateTensors()).map(([name, t]) => tensorEntry(name, t)),
    }),
    dispose: async () => optimizer.dispose(),
  };
}

/** The tfjs step and validation across processes: each computes its share of a step's micro-batches (all it is given) and of the validation batches. */
function dataParallelTfjs(o: RunnerOptions, optimizer: AdamW, comm: DataParallel): Pick<StepRunner, 'step' | 'validate'> {
  broadcastParameters(o.model.parameters(), comm);
  return {
    step: async (stepIndex, micro, lr) => {
      // Every rank holds the same number of the step's micro-batches (its loader's share), rank r the r-th run of them.
      const shard = {
        firstMicro: comm.rank * micro.length,
        totalMicro: micro.length * comm.size,
        allReduceSum: (v: Float32Array | Float64Array) => void comm.allReduceSum(v),
      };
      const options = {
        model: o.model,
        optimizer,
        samplePrefixLengths: o.samplePrefixLengths,
        runSeed: o.runSeed,
        clipNorm: o.clipNorm,
        shard,
      };
      return trainStep(options, stepIndex, micro, lr);
    },
    validate: async (batches) => {
      if (batches.length === 0) throw new Error('validation: the validation data gave no batches');
      const mine = validationSums(o.model, o.samplePrefixLengths, batches, (index) => index % comm.size === comm.rank);
      const sums = new Float64Array([mine.weighted, mine.positions, mine.images]);
      comm.allReduceSum(sums);
      return { loss: sums[0] / sums[1], images: sums[2] };
    },
  };
}

/**
 * The WebGPU engine computes every step, and holds the AdamW moments. The engine must be fresh (zero moments, no
 * update applied): it takes the model's weights, or the checkpoint's weights and moments when resuming. Data parallel
 * (more than one process): every rank starts from rank 0's weights, computes its share of each step's micro-batches
 * with the whole step's loss positions, the gradients are summed through the host (AimEngine.exchangeGradients) and
 * every rank applies the same update on its own device; validation batches are shared out and the sums added.
 */
export async function engineRunner(engine: AimEngine, o: RunnerOptions): Promise<StepRunner> {
  if (engine.updates !== 0) throw new Error(`engineRunner: the engine has already applied ${engine.updates} updates; give it a fresh engine`);
  const comm = o.parallel && o.parallel.size > 1 ? o.parallel : undefined;
  const params = o.model.parameters();
  if (o.resume) await loadCheckpointModel(o.resume.dir, o.model);
  // Rank 0's weights go to the model of every rank, which the engine then takes.
  if (comm) broadcastParameters(params, comm);
  const byName = new Map(params.map((p) => [p.name, p.variable]));
  await engine.loadTensors('parameters', (name) => byName.get(name)!.dataSync() as Float32Array);
  if (o.resume) {
    const { dir, updates } = o.resume;
    if (!Number.isInteger(updates) || updates < 0) throw new Error(`resume: ${dir}: the AdamW update count must be an integer >= 0, got ${updates}`);
    await readCheckpointMoments(dir, async (read) => {
      for (const which of ['m', 'v'] as const) await engine.loadTensors(which, (name) => read(momentName(which, name), byName.get(name)!.shape));
    });
    engine.updates = updates;
  }
  const { beta1, beta2, eps, weightDecay } = o.adamw;
  return {
    async step(stepIndex, micro, lr) {
      // Data parallel: `micro` is this rank's share, the step's micro-batches rank*n .. of n*size.
      const shard = comm ? { firstMicro: comm.rank * micro.length, totalMicro: micro.length * comm.size } : undefined;
      const { prefixes, total } = stepPrefixes(o.samplePrefixLengths, o.runSeed, stepIndex, micro, shard);
      const batches = micro.map((b, i) => ({ patches: b.patches, prefixLengths: prefixes[i] }));
      const hyper = { lr, beta1, beta2, eps, weightDecay, clipNorm: o.clipNorm };
      let stats: EngineStepStats;
      if (comm) {
        engine.accumulateGradients(batches, total);
        await engine.exchangeGradients((v) => comm.allReduceSum(v));
        stats = await engine.applyUpdate(hyper);
      } else {
        stats = await engine.step(batches, hyper);
      }
      // The statistics are the summed ones on every rank: a non-finite loss or gradient anywhere stops all at this step.
      if (stats.nonFinite) throw new NonFiniteLossError(stepIndex + 1, Number.isFinite(stats.loss) ? stats.gradNorm : stats.loss);
      // Every rank's share has the same shape, so the step's images are this rank's times the world size.
      const images = micro.reduce((n, b) => n + b.batchSize, 0) * (comm?.size ?? 1);
      return { step: stepIndex + 1, loss: stats.loss, lr, gradNorm: stats.gradNorm, images };
    },
    async validate(batches) {
      if (batches.length === 0) throw new Error('validation: the validation data gave no batches');
      const sums = new Float64Array(3); // weighted loss, positions, images
      for (const [index, b] of batches.entries()) {
        if (comm && index % comm.size !== comm.rank) continue;
        const prefixLengths = o.samplePrefixLengths(b.batchSize, b.numPatches, validationPrefixSeed(index));
        const count = engine.lossPositions(prefixLengths);
        sums[0] += (await engine.evalLoss({ patches: b.patches, prefixLengths })) * count;
        sums[1] += count;
        sums[2] += b.batchSize;
      }
      comm?.allReduceSum(sums);
      return { loss: sums[0] / sums[1], images: sums[2] };
    },
    // One process queues steps on its GPU in order; data parallel exchanges every step's gradients through the host.
    queuesSteps: comm === undefined,
    get updateCount() {
      return engine.updates;
    },
    async checkpoint() {
      // One tensor on the host at a time: each weight replaces the model's, each moment is read as it is written.
      for (const p of params) {
        const t = tf.tensor(await engine.readTensor('parameters', p.name), p.variable.shape);
        p.variable.assign(t);
        t.dispose();
      }
      // In AdamW.stateTensors' order, so both paths write the same file.
      const moments = params.flatMap((p) =>
        (['m', 'v'] as const).map((which) => ({
          name: momentName(which, p.name),
          dtype: 'F32' as const,
          shape: p.variable.shape,
          data: () => engine.readTensor(which, p.name),
        })),
      );
      return { model: o.model, moments };
    },
    dispose: () => engine.destroy(),
  };
}
