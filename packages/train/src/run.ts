// The pretraining run: resume, step loop with prefetched data, validation, metrics, plots, checkpoints, stops.
// Everything random is derived from (run seed, step, micro-batch), so a checkpoint needs no RNG state to resume exactly.
// Its parts: run-parts.ts (what a run reads), checkpoint-state.ts (state.json, restore, write), validation.ts,
// throughput.ts (the moving images/s window), data-share.ts (what each rank reads under data parallelism).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync as writeFileAtomic } from '@aim/base/atomic-file';
import { GpuDeviceError } from '@aim/gpu';
import { assertCheckpointVerified, checkpointBytes } from './checkpoint-dir.js';
import { readCheckpointState, writeCheckpoint, type CheckpointState } from './checkpoint-state.js';
import { formatConfig, type TrainConfig } from './config.js';
import { anyRank, microBatchesPerRank, type DataParallel } from './data-parallel.js';
import { gatherRankPositions, type DataShare } from './data-share.js';
import { MetricsLog, lossCurveSvg, readMetrics } from './metrics.js';
import { Prefetcher } from './prefetch.js';
import type { DataPosition, PositionedBatch, RunParts } from './run-parts.js';
import { learningRateAt } from './schedule.js';
import { engineRunner, type StepRunner, tfjsRunner } from './step-runner.js';
import { ThroughputWindow } from './throughput.js';
import { NonFiniteLossError, type StepResult } from './train-step.js';
import { readValidationBatches, validator } from './validation.js';

export interface StepReport extends StepResult {
  readonly totalSteps: number;
  readonly imagesPerSecond: number;
  readonly etaSeconds: number;
  readonly dataWaitSeconds: number;
}

export interface RunHooks {
  onStep?(report: StepReport): void;
  onValidation?(step: number, loss: number): void;
  /** After a checkpoint is in place: its folder, and the bytes of its files and the seconds it took from the step's end. */
  onCheckpoint?(dir: string, step: number, written: { readonly bytes: number; readonly seconds: number }): void;
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
  /** Polled after every step: true finishes the steps submitted (the one in flight too), saves and returns (SIGINT/SIGTERM). */
  readonly shouldStop?: () => boolean;
  /**
   * Data-parallel processes (MPI): every rank runs runPretraining with the same options; each reads the same raw
   * training stream but decodes and computes only its share of every step's micro-batches (data-share.ts), gradients
   * are summed across ranks, and rank 0 alone writes config, metrics, plots and checkpoints (with every rank's data
   * position).
   */
  readonly parallel?: DataParallel;
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

  if (options.resumeFrom) {
    // Before anything is allocated: every file of the checkpoint against the SHA-256s in its state.json.
    if (!assertCheckpointVerified(options.resumeFrom).sealed)
      hooks.onMessage?.(`note: ${options.resumeFrom} has no file digests (saved before sealing); loading it unverified`);
  }
  const resumeState = options.resumeFrom ? readCheckpointState(options.resumeFrom) : undefined;
  const resumePosition: DataPosition | undefined = resumeState?.dataPosition;
  const startStep = resumeState?.step ?? 0;
  // Data parallel: this rank's loader yields only its micro-batches of each step (`perRank` of the step's `accum`).
  const share: DataShare | undefined = parallel && parallel.size > 1 ? { rank: parallel.rank, size: parallel.size, step: startStep } : undefined;
  // A data position this run cannot continue from is an error before the run folder is written or a weight loaded.
  parts.checkResume?.(resumePosition, share);
  if (writer) {
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(join(runDir, 'config.json'), formatConfig(config) + '\n');
  }
  const metrics: Pick<MetricsLog, 'append'> = writer ? new MetricsLog(metricsPath) : { append: () => {} };
  const runnerOptions = {
    model: parts.model,
    adamw: { beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay },
    samplePrefixLengths: parts.samplePrefixLengths,
    runSeed: config.seed,
    clipNorm: config.clipNorm,
    parallel,
    ...(options.resumeFrom && resumeState ? { resume: { dir: options.resumeFrom, updates: resumeState.optimizerUpdates } } : {}),
  };
  let runner: StepRunner;
  try {
    runner = parts.engine ? await engineRunner(parts.engine, runnerOptions) : await tfjsRunner(runnerOptions);
  } catch (err) {
    await parts.engine?.destroy();
    throw err;
  }
  if (options.resumeFrom && resumeState) {
    if (resumeState.dataPosition.microBatches !== resumeState.step * config.accum) {
      hooks.onMessage?.(
        `note: the checkpoint consumed ${resumeState.dataPosition.microBatches} micro-batches for ${resumeState.step} steps; ` +
          `continuing from that data position with accum ${config.accum}`,
      );
    }
    metrics.append({ kind: 'event', step: startStep, event: 'resume', from: options.resumeFrom, config });
    hooks.onMessage?.(`resumed from ${options.resumeFrom} at step ${startStep}`);
  } else {
    metrics.append({ kind: 'event', step: 0, event: 'start', backend: parts.backend, config });
  }

  const schedule = {
    totalSteps: config.steps,
    peakLr: config.lr,
    warmupFraction: config.warmupFraction,
    warmupStartLr: config.warmupStartLr,
    finalLr: config.finalLr,
  };
  const lastStep = config.stopAt > 0 ? Math.min(config.stopAt, config.steps) : config.steps;

  const valBatches = await readValidationBatches(parts, config.valBatches);
  const validate = validator(runner, valBatches, (step, loss, images) => {
    metrics.append({ kind: 'val', step, loss, images });
    hooks.onValidation?.(step, loss);
  });

  let microBatchesConsumed = resumePosition?.microBatches ?? 0;
  let loaderPosition = resumePosition?.loader;
  const perRank = share ? microBatchesPerRank(config.accum, share.size) : config.accum;
  const data = share ? await parts.openTrainData(resumePosition, share) : await parts.openTrainData(resumePosition);
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
  const throughput = new ThroughputWindow();

  const save = async (): Promise<void> => {
    const started = performance.now();
    // Every rank brings its model up to date; rank 0 alone writes it.
    const contents = await runner.checkpoint();
    // A collective under data parallelism: every rank saves at the same steps, and rank 0 records every rank's position.
    const position: DataPosition = share
      ? { microBatches: microBatchesConsumed, ...gatherRankPositions(loaderPosition, parallel!, step, config) }
      : { microBatches: microBatchesConsumed, ...(loaderPosition ? { loader: loaderPosition } : {}) };
    const state: CheckpointState = {
      format: 'aim-train-checkpoint/1',
      step,
      optimizerUpdates: runner.updateCount,
      dataPosition: position,
      rng: { runSeed: config.seed, scheme: 'seeds derived from (runSeed, step, micro-batch); data augmentation from (seed, sample key, epoch)' },
      config,
      backend: parts.backend,
      ...(lastLoss !== undefined ? { lastLoss } : {}),
      ...(lastValLoss !== undefined && lastValStep === step ? { valLoss: lastValLoss } : {}),
      savedAt: new Date().toISOString(),
    };
    if (!writer) return;
    lastCheckpoint = await writeCheckpoint({ root: checkpointsRoot, keep: config.keep, state, ...contents });
    const written = { bytes: checkpointBytes(lastCheckpoint), seconds: (performance.now() - started) / 1000 };
    const stats = data.stats?.();
    metrics.append({ kind: 'event', step, event: 'checkpoint', dir: lastCheckpoint, ...written, ...(stats ? { dataStats: stats } : {}) });
    hooks.onCheckpoint?.(lastCheckpoint, step, written);
  };
  const plot = (): void => void (writer && writeFileAtomic(plotPath, lossCurveSvg(readMetrics(metricsPath))));

  /** A submitted step whose result has not been taken yet, with what the loop records when it is. */
  interface Submitted {
    /** 0-based index of the step. */
    readonly index: number;
    readonly result: Promise<StepResult>;
    readonly lr: number;
    /** Where its time starts: when the loop began gathering its data (its first step: when the data was there). */
    readonly since: number;
    readonly dataWaitSeconds: number;
    readonly endPosition: PositionedBatch['dataPosition'];
  }
  /** The step's failure as the run reports it: the step named, the last good checkpoint, an event in the metrics. */
  const failed = (err: unknown, index: number): unknown => {
    if (err instanceof NonFiniteLossError) {
      metrics.append({ kind: 'event', step: err.step, event: 'non-finite-loss', loss: String(err.loss) });
      if (lastCheckpoint) err.message += `; last good checkpoint: ${lastCheckpoint}`;
    } else if (err instanceof GpuDeviceError) {
      // What the GPU computed since the error is void: the run stops here, and resumes from the last checkpoint.
      metrics.append({ kind: 'event', step: index + 1, event: 'gpu-error', message: err.message });
      err.message = `step ${index + 1}: ${err.message}${lastCheckpoint ? `; last good checkpoint: ${lastCheckpoint}` : ''}`;
    }
    return err;
  };
  let lastTaken = 0;
  /** Waits for a submitted step's result and records it (metrics, progress); the loop's position moves to its end. */
  const take = async (s: Submitted): Promise<void> => {
    let result: StepResult;
    try {
      result = await s.result;
    } catch (err) {
      throw failed(err, s.index);
    }
    microBatchesConsumed += config.accum; // the whole step's, on every rank
    loaderPosition = s.endPosition ?? loaderPosition;
    step = result.step;
    // A step's time runs from where it began (or, when submitted behind another, from that one's end) to its result.
    const now = performance.now();
    const seconds = (now - Math.max(s.since, lastTaken)) / 1000;
    lastTaken = now;
    trainSeconds += seconds;
    trainImages += result.images;
    const { imagesPerSecond, etaSeconds } = throughput.add(seconds, result.images, lastStep - step);
    firstLoss ??= result.loss;
    lastLoss = result.loss;
    metrics.append({
      kind: 'train',
      step,
      loss: result.loss,
      lr: s.lr,
      gradNorm: result.gradNorm,
      imagesPerSecond,
      elapsedSeconds: (performance.now() - started) / 1000,
    });
    hooks.onStep?.({ ...result, totalSteps: config.steps, imagesPerSecond, etaSeconds, dataWaitSeconds: s.dataWaitSeconds });
  };
  /** Whether the run validates or saves after step `n` (1-based): known when the step is submitted, so it is waited for at once. */
  const checkpointsAfter = (n: number): boolean => (config.valEvery > 0 && n % config.valEvery === 0) || n % config.saveEvery === 0 || n === lastStep;

  // A runner that queues steps in order (the WebGPU engine in one process) gets the next step before the previous
  // one's statistics are back, so the GPU does not wait for the host between steps. A step after which the run
  // validates, saves or ends is waited for before anything else; so is every step of any other runner.
  let pending: Submitted | undefined;
  try {
    let next = startStep; // the next step to submit, 0-based
    while (next < lastStep) {
      const t0 = performance.now();
      let waitBefore = stream.waitSeconds;
      const micro: PositionedBatch[] = [];
      for (let i = 0; i < perRank; i++) {
        const batch = await stream.next();
        if (batch.done)
          throw new Error(
            `training data ended after ${microBatchesConsumed + ((pending ? 1 : 0) * config.accum) + micro.length * (config.accum / perRank)} micro-batches; the loader must repeat epochs`,
          );
        micro.push(batch.value);
      }
      if (next === startStep) {
        // Start-up (workers, first shard) is not starvation: keep it out of the step time and the wait total.
        firstBatchSeconds = stream.waitSeconds;
        stream.waitSeconds = 0;
        waitBefore = 0;
      }
      const lr = learningRateAt(next, schedule);
      const submitted: Submitted = {
        index: next,
        result: runner.step(next, micro, lr),
        lr,
        since: next === startStep ? performance.now() : t0,
        dataWaitSeconds: stream.waitSeconds - waitBefore,
        endPosition: micro.at(-1)!.dataPosition,
      };
      // Taken in order below; until then a failure must not count as unhandled.
      submitted.result.catch(() => {});
      next++;
      if (pending) await take(pending);
      pending = undefined;
      // Left in flight behind the next one, unless the run validates, saves or stops after it (a queuing runner is a
      // single process, so its stop request is its own).
      if (runner.queuesSteps && !checkpointsAfter(next) && options.shouldStop?.() !== true) {
        pending = submitted;
        continue;
      }
      await take(submitted);

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
