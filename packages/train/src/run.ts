// The pretraining run: resume, step loop with prefetched data, validation, metrics, plots, checkpoints, stops.
// Everything random is derived from (run seed, step, micro-batch), so a checkpoint needs no RNG state to resume exactly.
import { mkdirSync, readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import type { AimEngine } from '@aim/gpu';
import { readSafetensors, saveAimCheckpoint, tensorEntry, writeSafetensors, type AimModel } from '@aim/model';
import { AdamW } from './adamw.js';
import { writeFileAtomicSync as writeFileAtomic } from '@aim/base/atomic-file';
import { CHECKPOINT_MARKER, assertCheckpointVerified, latestCheckpoint, latestVerifiedCheckpoint, saveCheckpointDir } from './checkpoint-dir.js';
import { checkValues, formatConfig, type TrainConfig } from './config.js';
import { MetricsLog, lossCurveSvg, readMetrics } from './metrics.js';
import { Prefetcher } from './prefetch.js';
import { learningRateAt } from './schedule.js';
import { engineRunner, tfjsRunner } from './step-runner.js';
import { anyRank, microBatchesPerRank, type DataParallel } from './data-parallel.js';
import { NonFiniteLossError, type PatchBatchLike, type PrefixSampler, type StepResult } from './train-step.js';

/** Where the training stream stands; saved in checkpoints. `microBatches` is what resuming relies on. */
export interface DataPosition {
  /** Micro-batches consumed since the start of the run. */
  readonly microBatches: number;
  /** What the loader reports about its position (epoch, shard, sample offset), for people reading the checkpoint. */
  readonly loader?: Readonly<Record<string, unknown>>;
}

/** A batch with the loader's position right after it (what a checkpoint must record once the batch is consumed). */
export type PositionedBatch = PatchBatchLike & { readonly dataPosition?: Readonly<Record<string, unknown>> };

export interface TrainData {
  readonly batches: AsyncIterable<PositionedBatch>;
  /** Rejected-sample counts and throughput, reported in logs. */
  stats?(): Readonly<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The parts a run is made of; `createRunParts` (wiring.ts) builds them from a config with @aim/model and @aim/data. */
export interface RunParts {
  /** The AIM model with its pretraining head. */
  readonly model: AimModel;
  readonly samplePrefixLengths: PrefixSampler;
  /** Opens the training stream at its start, or right after the position saved in a checkpoint. */
  openTrainData(from: DataPosition | undefined): Promise<TrainData>;
  /** Opens the validation stream from its start (deterministic order, eval transform); undefined: no validation. */
  openValData?(): Promise<TrainData>;
  /** Short description of the compute backend, for logs. */
  readonly backend: string;
  /**
   * The WebGPU engine, when it computes the steps: `model` is then its host copy for checkpoints, synchronised when one
   * is written or loaded. runPretraining destroys it when the run ends.
   */
  readonly engine?: AimEngine;
}

export interface StepReport extends StepResult {
  readonly totalSteps: number;
  readonly imagesPerSecond: number;
  readonly etaSeconds: number;
  readonly dataWaitSeconds: number;
}

export interface RunHooks {
  onStep?(report: StepReport): void;
  onValidation?(step: number, loss: number): void;
  onCheckpoint?(dir: string, step: number): void;
  onMessage?(message: string): void;
}

export type StopReason = 'completed' | 'stop-at' | 'signal';

export interface RunSummary {
  readonly runDir: string;
  readonly startStep: number;
  readonly finalStep: number;
  readonly totalSteps: number;
  readonly stopReason: StopReason;
  readonly firstLoss?: number;
  readonly lastLoss?: number;
  readonly lastValLoss?: number;
  readonly checkpoint?: string;
  readonly wallSeconds: number;
  /** Images per second over the training steps (validation and checkpoint time excluded). */
  readonly imagesPerSecond: number;
  /** Seconds the steps after the first waited for data (0: the loader always had a batch ready). */
  readonly dataWaitSeconds: number;
  /** Seconds until the first batch arrived (worker start-up, shard opening). */
  readonly firstBatchSeconds: number;
  readonly trainSeconds: number;
  readonly dataStats?: Readonly<Record<string, unknown>>;
  readonly metricsPath: string;
  readonly plotPath: string;
}

export interface RunOptions {
  readonly config: TrainConfig;
  readonly runDir: string;
  readonly parts: RunParts;
  /** A checkpoint folder to continue from. */
  readonly resumeFrom?: string;
  readonly hooks?: RunHooks;
  /** Polled after every step: true finishes the step, saves and returns (SIGINT/SIGTERM). */
  readonly shouldStop?: () => boolean;
  /**
   * Data-parallel processes (MPI): every rank runs runPretraining with the same options and reads the same training
   * stream; each computes its share of every step's micro-batches, gradients are summed across ranks, and rank 0
   * alone writes config, metrics, plots and checkpoints.
   */
  readonly parallel?: DataParallel;
}

/** What state.json in a checkpoint holds. */
export interface CheckpointState {
  readonly format: 'aim-train-checkpoint/1';
  readonly step: number;
  readonly optimizerUpdates: number;
  readonly dataPosition: DataPosition;
  /** All randomness is derived from this seed and the step, so it is the whole RNG state. */
  readonly rng: { readonly runSeed: number; readonly scheme: string };
  readonly config: TrainConfig;
  readonly backend: string;
  readonly lastLoss?: number;
  /** Validation loss at this step (when validated here or earlier), read by the eval app. */
  readonly valLoss?: number;
  readonly savedAt: string;
}

const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/**
 * Resolves a --resume argument: a checkpoint folder (as is: loading verifies it), or a run folder (its newest
 * checkpoint that verifies; each damaged one passed over goes to `onSkip` as one line).
 */
export function resolveCheckpoint(path: string, onSkip?: (line: string) => void): string {
  try {
    readFileSync(join(path, CHECKPOINT_MARKER));
    return path;
  } catch {
    const latest = latestVerifiedCheckpoint(join(path, 'checkpoints'), onSkip);
    if (latest) return latest;
    if (latestCheckpoint(join(path, 'checkpoints'))) throw new Error(`resume: no checkpoint under '${path}' verifies (all damaged)`);
    throw new Error(`resume: '${path}' is neither a checkpoint folder (with ${CHECKPOINT_MARKER}) nor a run folder with checkpoints/`);
  }
}

export function readCheckpointState(checkpointDir: string): CheckpointState {
  const path = join(checkpointDir, CHECKPOINT_MARKER);
  const state = JSON.parse(readFileSync(path, 'utf8')) as CheckpointState;
  if (state.format !== 'aim-train-checkpoint/1') throw new Error(`${path}: unknown checkpoint format ${JSON.stringify(state.format)}`);
  checkValues(state.config, `${path} config`);
  return state;
}

/** Runs (or continues) pretraining until the schedule ends, --stop-at, or shouldStop(). */
export async function runPretraining(options: RunOptions): Promise<RunSummary> {
  const { config, runDir, parts, hooks = {}, parallel } = options;
  const started = performance.now();
  // Data parallel: rank 0 writes the run folder; every rank checks the split before allocating anything.
  const writer = (parallel?.rank ?? 0) === 0;
  if (parallel && parallel.size > 1) {
    microBatchesPerRank(config.accum, parallel.size);
  }
  const checkpointsRoot = join(runDir, 'checkpoints');
  const metricsPath = join(runDir, 'metrics.jsonl');
  const plotPath = join(runDir, 'loss-curve.svg');
  if (writer) {
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(join(runDir, 'config.json'), formatConfig(config) + '\n');
  }
  const metrics: Pick<MetricsLog, 'append'> = writer ? new MetricsLog(metricsPath) : { append: () => {} };

  if (options.resumeFrom) {
    // Before anything is allocated: every file of the checkpoint against the SHA-256s in its state.json.
    if (!assertCheckpointVerified(options.resumeFrom).sealed) hooks.onMessage?.(`note: ${options.resumeFrom} has no file digests (saved before sealing); loading it unverified`);
  }
  const params = parts.model.parameters();
  const optimizer = new AdamW(params, { beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay });
  let startStep = 0;
  let resumePosition: DataPosition | undefined;
  if (options.resumeFrom) {
    const state = readCheckpointState(options.resumeFrom);
    resumePosition = state.dataPosition;
    await loadModelWeights(parts.model, join(options.resumeFrom, MODEL_FILE));
    await loadOptimizerState(optimizer, join(options.resumeFrom, OPTIMIZER_FILE), state.optimizerUpdates);
    startStep = state.step;
    if (state.dataPosition.microBatches !== state.step * config.accum) {
      hooks.onMessage?.(
        `note: the checkpoint consumed ${state.dataPosition.microBatches} micro-batches for ${state.step} steps; ` +
          `continuing from that data position with accum ${config.accum}`,
      );
    }
    metrics.append({ kind: 'event', step: startStep, event: 'resume', from: options.resumeFrom, config });
    hooks.onMessage?.(`resumed from ${options.resumeFrom} at step ${startStep}`);
  } else {
    metrics.append({ kind: 'event', step: 0, event: 'start', backend: parts.backend, config });
  }
  const runnerOptions = { model: parts.model, optimizer, samplePrefixLengths: parts.samplePrefixLengths, runSeed: config.seed, clipNorm: config.clipNorm, parallel };
  const runner = parts.engine ? engineRunner(parts.engine, runnerOptions) : tfjsRunner(runnerOptions);

  const schedule = {
    totalSteps: config.steps,
    peakLr: config.lr,
    warmupFraction: config.warmupFraction,
    warmupStartLr: config.warmupStartLr,
    finalLr: config.finalLr,
  };
  const lastStep = config.stopAt > 0 ? Math.min(config.stopAt, config.steps) : config.steps;

  // Validation batches are read once and kept: the same images with the same prefixes at every evaluation.
  let valBatches: PatchBatchLike[] | undefined;
  if (parts.openValData) {
    const val = await parts.openValData();
    valBatches = [];
    try {
      for await (const b of val.batches) {
        valBatches.push(b);
        if (valBatches.length >= config.valBatches) break;
      }
    } finally {
      await val.close();
    }
    if (valBatches.length === 0) throw new Error('validation data gave no batches');
  }
  const validate = async (step: number): Promise<number | undefined> => {
    if (!valBatches) return undefined;
    const { loss, images } = await runner.validate(valBatches);
    metrics.append({ kind: 'val', step, loss, images });
    hooks.onValidation?.(step, loss);
    return loss;
  };

  let microBatchesConsumed = resumePosition?.microBatches ?? 0;
  let loaderPosition = resumePosition?.loader;
  const data = await parts.openTrainData(resumePosition);
  const stream = new Prefetcher(data.batches, config.prefetch);

  let step = startStep;
  let firstLoss: number | undefined;
  let lastLoss: number | undefined;
  let lastValLoss: number | undefined;
  let lastValStep = -1;
  let lastCheckpoint: string | undefined;
  let trainSeconds = 0;
  let firstBatchSeconds = 0;
  let trainImages = 0;
  let stopReason: StopReason = 'completed';
  const recent: Array<{ seconds: number; images: number }> = [];

  const save = async (): Promise<void> => {
    await runner.syncToHost();
    const position: DataPosition = { microBatches: microBatchesConsumed, ...(loaderPosition ? { loader: loaderPosition } : {}) };
    const state: CheckpointState = {
      format: 'aim-train-checkpoint/1',
      step,
      optimizerUpdates: optimizer.updateCount,
      dataPosition: position,
      rng: { runSeed: config.seed, scheme: 'seeds derived from (runSeed, step, micro-batch); data augmentation from (seed, sample key, epoch)' },
      config,
      backend: parts.backend,
      ...(lastLoss !== undefined ? { lastLoss } : {}),
      ...(lastValLoss !== undefined && lastValStep === step ? { valLoss: lastValLoss } : {}),
      savedAt: new Date().toISOString(),
    };
    const meta = { step: String(step), variant: config.variant };
    if (!writer) return;
    lastCheckpoint = await saveCheckpointDir({
      root: checkpointsRoot,
      step,
      keep: config.keep,
      write: async (dir) => {
        // model.safetensors is a plain AIM checkpoint (config in its metadata) that @aim/model and the eval app load.
        await saveAimCheckpoint(join(dir, MODEL_FILE), { model: parts.model, metadata: meta });
        const moments = optimizer.stateTensors();
        await writeSafetensors(
          join(dir, OPTIMIZER_FILE),
          Object.entries(moments).map(([name, t]) => tensorEntry(name, t)),
          { ...meta, contents: 'AdamW moments', updates: String(optimizer.updateCount) },
        );
        writeFileAtomic(join(dir, CHECKPOINT_MARKER), JSON.stringify(state, null, 2) + '\n');
      },
    });
    const stats = data.stats?.();
    metrics.append({ kind: 'event', step, event: 'checkpoint', dir: lastCheckpoint, ...(stats ? { dataStats: stats } : {}) });
    hooks.onCheckpoint?.(lastCheckpoint, step);
  };
  const plot = (): void => void (writer && writeFileAtomic(plotPath, lossCurveSvg(readMetrics(metricsPath))));

  try {
    while (step < lastStep) {
      const t0 = performance.now();
      let waitBefore = stream.waitSeconds;
      const micro: PositionedBatch[] = [];
      for (let i = 0; i < config.accum; i++) {
        const next = await stream.next();
        if (next.done) throw new Error(`training data ended after ${microBatchesConsumed + micro.length} micro-batches; the loader must repeat epochs`);
        micro.push(next.value);
      }
      const stepEndPosition = micro.at(-1)!.dataPosition;
      if (step === startStep) {
        // Start-up (workers, first shard) is not starvation: keep it out of the step time and the wait total.
        firstBatchSeconds = stream.waitSeconds;
        stream.waitSeconds = 0;
        waitBefore = 0;
      }
      const tCompute = step === startStep ? performance.now() : t0;
      const lr = learningRateAt(step, schedule);
      let result: StepResult;
      try {
        result = await runner.step(step, micro, lr);
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          metrics.append({ kind: 'event', step: err.step, event: 'non-finite-loss', loss: String(err.loss) });
          if (lastCheckpoint) err.message += `; last good checkpoint: ${lastCheckpoint}`;
        }
        throw err;
      }
      microBatchesConsumed += micro.length;
      loaderPosition = stepEndPosition ?? loaderPosition;
      step = result.step;
      const seconds = (performance.now() - tCompute) / 1000;
      trainSeconds += seconds;
      trainImages += result.images;
      recent.push({ seconds, images: result.images });
      if (recent.length > 20) recent.shift();
      const windowSeconds = recent.reduce((a, r) => a + r.seconds, 0);
      const imagesPerSecond = recent.reduce((a, r) => a + r.images, 0) / windowSeconds;
      const etaSeconds = (windowSeconds / recent.length) * (lastStep - step);
      firstLoss ??= result.loss;
      lastLoss = result.loss;
      metrics.append({ kind: 'train', step, loss: result.loss, lr, gradNorm: result.gradNorm, imagesPerSecond, elapsedSeconds: (performance.now() - started) / 1000 });
      hooks.onStep?.({ ...result, totalSteps: config.steps, imagesPerSecond, etaSeconds, dataWaitSeconds: stream.waitSeconds - waitBefore });

      const stopping = anyRank(options.shouldStop?.() === true, parallel);
      const atEnd = step === lastStep;
      if ((config.valEvery > 0 && step % config.valEvery === 0) || atEnd || stopping) {
        const v = await validate(step);
        if (v !== undefined) [lastValLoss, lastValStep] = [v, step];
      }
      if (step % config.saveEvery === 0 || atEnd || stopping) {
        await save();
        plot();
      }
      if (stopping) {
        stopReason = 'signal';
        break;
      }
    }
    if (stopReason !== 'signal' && step === lastStep && lastStep < config.steps) stopReason = 'stop-at';
    plot();
  } finally {
    await stream.return();
    await data.close();
    await runner.dispose();
    optimizer.dispose();
  }
  const dataStats = data.stats?.();
  metrics.append({ kind: 'event', step, event: 'end', reason: stopReason, ...(dataStats ? { dataStats } : {}) });
  return {
    runDir,
    startStep,
    finalStep: step,
    totalSteps: config.steps,
    stopReason,
    firstLoss,
    lastLoss,
    lastValLoss,
    checkpoint: lastCheckpoint,
    wallSeconds: (performance.now() - started) / 1000,
    imagesPerSecond: trainSeconds > 0 ? trainImages / trainSeconds : 0,
    dataWaitSeconds: stream.waitSeconds,
    firstBatchSeconds,
    trainSeconds,
    dataStats,
    metricsPath,
    plotPath,
  };
}

/** Loads every state-dict tensor of `model` from an AIM safetensors file, one tensor at a time. */
async function loadModelWeights(model: AimModel, path: string): Promise<void> {
  const file = await readSafetensors(path);
  try {
    for (const { name } of model.stateSpecs()) {
      if (!file.tensors.has(name)) throw new Error(`${path}: missing tensor '${name}' (was it saved from variant ${model.config.name}?)`);
      const t = await file.readTensor(name);
      try {
        model.loadStateDict({ [name]: t }, { partial: true });
      } finally {
        t.dispose();
      }
    }
  } finally {
    await file.close();
  }
}

async function loadOptimizerState(optimizer: AdamW, path: string, updates: number): Promise<void> {
  const file = await readSafetensors(path);
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const name of Object.keys(optimizer.stateTensors())) {
      if (!file.tensors.has(name)) throw new Error(`${path}: missing optimizer tensor '${name}'`);
      tensors[name] = await file.readTensor(name);
    }
    optimizer.loadState(tensors, updates);
  } finally {
    Object.values(tensors).forEach((t) => t.dispose());
    await file.close();
  }
}
