// One optimiser step of AIM pretraining: fresh prefix lengths per sample, exact gradient accumulation over
// micro-batches, global-norm clipping, AdamW at the scheduled LR; and the fixed-prefix validation loss.
// References: El-Nouby et al. 2024 (AIM), sections 3-4 (prefix attention, normalised-pixel loss, recipe).
import * as tf from '@tensorflow/tfjs-core';
import type { AdamW, TrainableParameter } from './adamw.js';
import { clipScale, globalNorm } from './clip.js';
import { trainPrefixSeed, validationPrefixSeed } from './seed.js';

/** What the loop needs from a model (structurally @aim/model's AIM model). */
export interface PretrainableModel {
  parameters(): readonly TrainableParameter[];
  /** Scalar loss for patches [B, K, p*p*3] with per-sample prefix lengths in 1..K-1. */
  pretrainLoss(patches: tf.Tensor3D, prefixLengths: Int32Array): tf.Scalar;
}

/** The batch fields the step reads (structurally @aim/data's PatchBatch). */
export interface PatchBatchLike {
  /** [batchSize, numPatches, patchDim] row-major. */
  readonly patches: Float32Array;
  readonly batchSize: number;
  readonly numPatches: number;
  readonly patchDim: number;
}

/** Prefix lengths S in 1..K-1, one per sample, from a seed (so a resumed run draws the same ones). */
export type PrefixSampler = (batch: number, numPatches: number, seed: number) => Int32Array;

export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`loss is ${loss} at step ${step}; stopping without applying this update (the last checkpoint is intact)`);
  }
}

/** Target positions the loss averages over for one sample: positions 1..K-1 that are >= S, i.e. K - S. */
const weightedPositions = (prefixLengths: Int32Array, numPatches: number): number => prefixLengths.reduce((sum, s) => sum + (numPatches - s), 0);

function toTensor(batch: PatchBatchLike): tf.Tensor3D {
  const { batchSize, numPatches, patchDim, patches } = batch;
  if (patches.length !== batchSize * numPatches * patchDim) {
    throw new Error(`batch: ${patches.length} values for [${batchSize}, ${numPatches}, ${patchDim}]`);
  }
  return tf.tensor3d(patches, [batchSize, numPatches, patchDim]); // [B, K, P]
}

export interface StepOptions {
  readonly model: PretrainableModel;
  readonly optimizer: AdamW;
  readonly samplePrefixLengths: PrefixSampler;
  readonly runSeed: number;
  readonly clipNorm: number;
  /** Data parallelism: this process computes only some of the step's micro-batches (see StepShard). */
  readonly shard?: StepShard;
}

/**
 * This process's part of a data-parallel step: its micro-batches are the step's micro-batches
 * `firstMicro .. firstMicro + n - 1` of `totalMicro` (all of the same shape), and `allReduceSum` sums a buffer over the
 * processes in place. Each process weights its gradients by their share of the weighted positions of the whole step
 * (computable locally: prefixes come from (run seed, step, micro-batch)), so the sum is the accumulated gradient.
 */
export interface StepShard {
  readonly firstMicro: number;
  readonly totalMicro: number;
  allReduceSum(values: Float32Array | Float64Array): void;
}

/**
 * The prefix lengths of a step's micro-batches (drawn from (run seed, step, micro-batch)), their weighted positions,
 * and the positions of the whole step that weight them. With a shard, `micro` are the step's micro-batches
 * `firstMicro ..` of `totalMicro`, all of one shape, so the others' positions are drawn here without communication.
 */
export function stepPrefixes(
  samplePrefixLengths: PrefixSampler,
  runSeed: number,
  stepIndex: number,
  micro: readonly PatchBatchLike[],
  shard?: Pick<StepShard, 'firstMicro' | 'totalMicro'>,
): { prefixes: Int32Array[]; counts: number[]; total: number } {
  const first = shard?.firstMicro ?? 0;
  const prefixes = micro.map((b, i) => samplePrefixLengths(b.batchSize, b.numPatches, trainPrefixSeed(runSeed, stepIndex, first + i)));
  const counts = micro.map((b, i) => weightedPositions(prefixes[i], b.numPatches));
  let total = counts.reduce((a, b) => a + b, 0);
  if (shard) {
    const { batchSize, numPatches } = micro[0];
    total = 0;
    for (let j = 0; j < shard.totalMicro; j++) {
      total +=
        j >= first && j < first + micro.length
          ? counts[j - first]
          : weightedPositions(samplePrefixLengths(batchSize, numPatches, trainPrefixSeed(runSeed, stepIndex, j)), numPatches);
    }
  }
  return { prefixes, counts, total };
}

export interface StepResult {
  /** 1-based: the number of optimiser steps completed after this one. */
  readonly step: number;
  /** Loss of the whole (accumulated) batch: every weighted target position counts once. */
  readonly loss: number;
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  readonly images: number;
}

/**
 * Optimiser step number `stepIndex` (0-based) over `microBatches` at learning rate `lr`.
 * Each micro-batch gradient is weighted by its share of weighted target positions, so the accumulated gradient
 * equals the gradient of the loss over the whole global batch, exactly as one big batch would give it.
 */
export function trainStep(options: StepOptions, stepIndex: number, microBatches: readonly PatchBatchLike[], lr: number): StepResult {
  const { model, optimizer, samplePrefixLengths, runSeed, clipNorm } = options;
  if (microBatches.length === 0) throw new Error('trainStep: no micro-batches');
  const params = model.parameters();
  const varList = params.map((p) => p.variable);
  const paramByVariable = new Map(params.map((p) => [p.variable.name, p.name]));

  const shard = options.shard;
  const { prefixes, counts, total } = stepPrefixes(samplePrefixLengths, runSeed, stepIndex, microBatches, shard);

  const summed = new Map<string, tf.Tensor>();
  let loss = 0;
  try {
    microBatches.forEach((batch, i) => {
      const share = counts[i] / total;
      const x = toTensor(batch);
      let result: ReturnType<typeof tf.variableGrads>;
      try {
        result = tf.variableGrads(() => model.pretrainLoss(x, prefixes[i]), varList);
      } finally {
        x.dispose(); // also when the forward or backward pass throws
      }
      const { value, grads } = result;
      loss += value.dataSync()[0] * share;
      value.dispose();
      for (const [varName, g] of Object.entries(grads)) {
        const name = paramByVariable.get(varName)!;
        const prev = summed.get(name);
        if (share === 1) {
          summed.set(name, g); // a single micro-batch: its gradient is the step's gradient
          continue;
        }
        summed.set(
          name,
          tf.tidy(() => (prev ? tf.add(prev, tf.mul(g, share)) : tf.mul(g, share))),
        );
        prev?.dispose();
        g.dispose();
      }
    });
    let images = microBatches.reduce((n, b) => n + b.batchSize, 0);
    if (shard) {
      const reduced = new Float64Array([loss, images]);
      shard.allReduceSum(reduced);
      [loss, images] = reduced;
      allReduceGradients(summed, params, shard);
    }
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(stepIndex + 1, loss);
    const gradNorm = globalNorm(summed.values());
    optimizer.apply(summed, lr, clipScale(gradNorm, clipNorm));
    return { step: stepIndex + 1, loss, lr, gradNorm, images };
  } finally {
    summed.forEach((t) => t.dispose());
  }
}

/**
 * Sums the weighted gradients over the processes, in place in `summed`: one flat float32 buffer in parameter order
 * (the binding chunks what exceeds MPI's int count). The tfjs backends compute every gradient of a micro-batch in
 * one call, so there is nothing to overlap the exchange with here.
 */
function allReduceGradients(summed: Map<string, tf.Tensor>, params: readonly TrainableParameter[], shard: StepShard): void {
  const present = params.filter((p) => summed.has(p.name));
  const size = present.reduce((n, p) => n + summed.get(p.name)!.size, 0);
  const flat = new Float32Array(size);
  let offset = 0;
  for (const p of present) {
    const g = summed.get(p.name)!;
    flat.set(g.dataSync() as Float32Array, offset);
    offset += g.size;
  }
  shard.allReduceSum(flat);
  offset = 0;
  for (const p of present) {
    const g = summed.get(p.name)!;
    summed.set(p.name, tf.tensor(flat.subarray(offset, offset + g.size), g.shape, 'float32'));
    offset += g.size;
    g.dispose();
  }
}

/**
 * Validation sums over the batches `keep(index)` selects (a data-parallel process's share), with the prefixes of
 * validationLoss: weighted loss sum, weighted positions and images, to be summed over processes.
 */
export function validationSums(
  model: PretrainableModel,
  samplePrefixLengths: PrefixSampler,
  batches: readonly PatchBatchLike[],
  keep: (index: number) => boolean,
): { weighted: number; positions: number; images: number } {
  let weighted = 0;
  let positions = 0;
  let images = 0;
  batches.forEach((batch, index) => {
    if (!keep(index)) return;
    const prefix = samplePrefixLengths(batch.batchSize, batch.numPatches, validationPrefixSeed(index));
    const count = weightedPositions(prefix, batch.numPatches);
    const value = tf.tidy(() => model.pretrainLoss(toTensor(batch), prefix));
    weighted += value.dataSync()[0] * count;
    value.dispose();
    positions += count;
    images += batch.batchSize;
  });
  return { weighted, positions, images };
}

/**
 * Validation loss over `batches` with fixed prefix lengths (seeded by batch index only), averaged over all weighted
 * target positions, so values compare between checkpoints and runs that read the same validation data.
 */
export async function validationLoss(
  model: PretrainableModel,
  samplePrefixLengths: PrefixSampler,
  batches: AsyncIterable<PatchBatchLike>,
  maxBatches: number,
): Promise<{ loss: number; images: number }> {
  const taken: PatchBatchLike[] = [];
  for await (const batch of batches) {
    if (taken.length >= maxBatches) break;
    taken.push(batch);
  }
  if (taken.length === 0) throw new Error('validation: the validation data gave no batches');
  const { weighted, positions, images } = validationSums(model, samplePrefixLengths, taken, () => true);
  return { loss: weighted / positions, images };
}
