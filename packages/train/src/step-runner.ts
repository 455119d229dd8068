// Who computes a training step: the tfjs model (cpu, wasm, tensorflow backends) or the WebGPU engine (@aim/gpu).
// Both draw the same prefix lengths from (run seed, step, micro-batch), weight micro-batches the same way and apply
// the same AdamW, so a run can move between them through a checkpoint. With the engine, the tfjs model and AdamW
// stay on the host as the checkpoint copy: they are synchronised only when a checkpoint is written or loaded.
import * as tf from '@tensorflow/tfjs-core';
import type { AimEngine, EngineStepStats } from '@aim/gpu';
import type { AimModel } from '@aim/model';
import { type AdamW, momentName } from './adamw.js';
import { validationPrefixSeed } from './seed.js';
import { NonFiniteLossError, type PatchBatchLike, type PrefixSampler, type StepResult, stepPrefixes, trainStep, validationSums } from './train-step.js';
import { broadcastParameters, type DataParallel } from './data-parallel.js';

export interface StepRunner {
  /** Optimiser step `stepIndex` (0-based) over `micro` at learning rate `lr`; data parallel: this rank's share of it. */
  step(stepIndex: number, micro: readonly PatchBatchLike[], lr: number): Promise<StepResult>;
  /** Mean loss over every weighted position of `batches`, with the fixed validation prefixes. */
  validate(batches: readonly PatchBatchLike[]): Promise<{ loss: number; images: number }>;
  /** Brings the host model and optimizer up to date before a checkpoint is written. */
  syncToHost(): Promise<void>;
  /** Takes the host model and optimizer (just loaded from a checkpoint) as the state to continue from. */
  syncFromHost(): void;
  /** Releases what the runner holds (not the model or optimizer). */
  dispose(): Promise<void>;
}

export interface RunnerOptions {
  readonly model: AimModel;
  readonly optimizer: AdamW;
  readonly samplePrefixLengths: PrefixSampler;
  readonly runSeed: number;
  readonly clipNorm: number;
  /**
   * Data-parallel processes: each is given and computes only its share of every step's micro-batches (rank r: the
   * step's micro-batches r*n .. (r+1)*n - 1, n = micro.length); rank 0's weights are broadcast.
   */
  readonly parallel?: DataParallel;
}

/** The tfjs model computes every step (the reference path). */
export function tfjsRunner(o: RunnerOptions): StepRunner {
  const comm = o.parallel;
  if (comm && comm.size > 1) return dataParallelTfjsRunner(o, comm);
  return {
    step: async (stepIndex, micro, lr) =>
      trainStep(
        { model: o.model, optimizer: o.optimizer, samplePrefixLengths: o.samplePrefixLengths, runSeed: o.runSeed, clipNorm: o.clipNorm },
        stepIndex,
        micro,
        lr,
      ),
    validate: async (batches) => {
      if (batches.length === 0) throw new Error('validation: the validation data gave no batches');
      const { weighted, positions, images } = validationSums(o.model, o.samplePrefixLengths, batches, () => true);
      return { loss: weighted / positions, images };
    },
    syncToHost: async () => {},
    syncFromHost: () => {},
    dispose: async () => {},
  };
}

/** tfjsRunner across processes: each computes its share of a step's micro-batches (all it is given) and of the validation batches. */
function dataParallelTfjsRunner(o: RunnerOptions, comm: DataParallel): StepRunner {
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
        optimizer: o.optimizer,
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
    syncToHost: async () => {},
    syncFromHost: () => {},
    dispose: async () => {},
  };
}

/**
 * The WebGPU engine computes every step; the host model and optimizer are its checkpoint copy. Data parallel (more
 * than one process): every rank starts from rank 0's weights, computes its share of each step's micro-batches with
 * the whole step's loss positions, the gradients are summed through the host (AimEngine.exchangeGradients) and every
 * rank applies the same update on its own device; validation batches are shared out and the sums added.
 */
export function engineRunner(engine: AimEngine, o: RunnerOptions): StepRunner {
  const comm = o.parallel && o.parallel.size > 1 ? o.parallel : undefined;
  const params = o.model.parameters();
  const syncFromHost = (): void => {
    engine.setParameters(new Map(params.map((p) => [p.name, p.variable.dataSync() as Float32Array])));
    const state = o.optimizer.stateTensors();
    const moment = (which: 'm' | 'v') => new Map(params.map((p) => [p.name, state[momentName(which, p.name)].dataSync() as Float32Array]));
    engine.setMoments(moment('m'), moment('v'), o.optimizer.updateCount);
  };
  // Rank 0's weights go to the host copy of every rank, which the engine then takes (the engine's own parameters are
  // the host copy's at this point, so this is the engine's weights broadcast, without an asynchronous GPU read here).
  if (comm) broadcastParameters(params, comm);
  syncFromHost();
  const { beta1, beta2, eps, weightDecay } = o.optimizer.options;
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
    async syncToHost() {
      const values = await engine.readParameters();
      const { m, v, updates } = await engine.readMoments();
      for (const p of params) {
        const t = tf.tensor(values.get(p.name)!, p.variable.shape);
        p.variable.assign(t);
        t.dispose();
      }
      const tensors: Record<string, tf.Tensor> = {};
      for (const p of params) {
        tensors[momentName('m', p.name)] = tf.tensor(m.get(p.name)!, p.variable.shape);
        tensors[momentName('v', p.name)] = tf.tensor(v.get(p.name)!, p.variable.shape);
      }
      try {
        o.optimizer.loadState(tensors, updates);
      } finally {
        Object.values(tensors).forEach((t) => t.dispose());
      }
    },
    syncFromHost,
    dispose: () => engine.destroy(),
  };
}
