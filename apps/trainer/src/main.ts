// `npx nx run trainer:train [-- flags]`: resolve the config, prepare data, pick a backend, pretrain, report.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { main, type CommandDefinition, type CommandLine } from '@aim/cli';
import { reserveDecodeThreads } from '@aim/data';
import { type ActivationMode, AimEngine, describeEngine } from '@aim/gpu';
import {
  AUTO_ACTIVATIONS,
  AUTO_GPU_TILES,
  type ActivationPlans,
  ConfigError,
  type DataSplit,
  activationPlans,
  createRunParts,
  decideActivations,
  engineDeviceOf,
  formatConfig,
  openGpuTiles,
  runPretraining,
  selectCompute,
  type RunSummary,
  type TrainConfig,
} from '@aim/train';
import { TRAIN_FLAGS, commandFromCli, usage } from './cli.js';
import { readGpuMemory } from '@aim/model';
import { prepareMnist } from '@aim/shards';
import { ProgressLine, formatDuration } from './progress.js';
import { RUNS_ROOT, planResume } from './resume.js';
import { abortJob, firstOnEachMachine, joinDistributed, rankGpus, showRankItsGpu, type Distributed } from './distributed.js';
import { shownVulkanDevice } from '@aim/vulkan-device';

// Before any asynchronous I/O: libuv sizes the thread pool sharp decodes on when it first starts.
reserveDecodeThreads();

const KEPT_ACTIVATIONS: Record<ActivationMode, string> = {
  recompute: 'block inputs; each block recomputed in the backward',
  selective: "the GEMMs' outputs; norms, attention probabilities and GELU recomputed in the backward",
  keep: 'every activation',
};

const mib = (bytes: number): string => (bytes < 2 ** 30 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 30).toFixed(2)} GiB`);

/** How the ranks divide the training data (--data-split). */
const DATA_SPLIT_LINES: Record<DataSplit, string> = {
  samples: 'every rank reads the whole stream and decodes only its share (--data-split samples)',
  shards: 'each rank reads only its own shards, r, r+N, ... (--data-split shards)',
};

/** What each --activations mode would allocate at this micro-batch: the choice between memory and recomputation. */
function activationPlansLine(plans: ActivationPlans, batch: number): string {
  const each = [...plans].map(([mode, bytes]) => `${mode} ${bytes === undefined ? 'over the storage binding limit' : mib(bytes)}`);
  return `engine: --activations at micro-batch ${batch}: ${each.join(', ')} (least memory first; 'recompute' runs each block's forward GEMMs twice)`;
}

const timestamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

async function dataSpecs(config: TrainConfig, log: (m: string) => void): Promise<{ train: string; val?: string }> {
  const needsMnist = config.data === 'mnist' || config.valData === 'mnist';
  const mnist = needsMnist ? await prepareMnist(join(config.cacheDir, 'mnist'), log) : undefined;
  return {
    train: config.data === 'mnist' ? mnist!.train : config.data,
    ...(config.valData === 'mnist' ? { val: mnist!.val } : config.valData !== '' ? { val: config.valData } : {}),
  };
}

function summaryText(s: RunSummary, resumeCommand: string, worldSize: number): string {
  const lines = [
    `${s.stopReason === 'completed' ? 'done' : `stopped (${s.stopReason === 'signal' ? 'signal' : '--stop-at'})`}: ` +
      `step ${s.finalStep}/${s.totalSteps} (this process: ${s.startStep} -> ${s.finalStep}) in ${formatDuration(s.wallSeconds)}`,
    `train loss ${s.firstLoss?.toFixed(4) ?? '-'} (first step) -> ${s.lastLoss?.toFixed(4) ?? '-'} (last step)` +
      (s.lastValLoss !== undefined ? `; validation loss ${s.lastValLoss.toFixed(4)}` : ''),
    `throughput ${s.imagesPerSecond.toFixed(1)} img/s over ${formatDuration(s.trainSeconds)} of steps; ` + `waited ${s.dataWaitSeconds.toFixed(1)} s for data`,
  ];
  const stats = s.dataStats as { yielded?: number; rejectedTotal?: number; rejected?: Record<string, number>; readErrors?: number } | undefined;
  if (stats) {
    const reasons = Object.entries(stats.rejected ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    // Under data parallelism each rank decodes only its share; rank 0 prints its own counts.
    lines.push(
      `data${worldSize > 1 ? " (rank 0's share)" : ''}: ${stats.yielded ?? 0} images loaded, ${stats.rejectedTotal ?? 0} rejected${reasons ? ` (${reasons})` : ''}, ${stats.readErrors ?? 0} read errors`,
    );
  }
  lines.push(`run folder ${s.runDir}: metrics.jsonl, loss-curve.svg, config.json` + (s.checkpoint ? `, checkpoint ${s.checkpoint}` : ''));
  if (s.stopReason !== 'completed') lines.push(`resume with: ${resumeCommand}`);
  return lines.join('\n');
}

/** `trainer:train` itself: a parsed command line -> a run. Errors propagate to runCommand (one line, exit 1 or 2). */
export async function train(cli: CommandLine): Promise<number> {
  // Under mpirun/srun: join the job first, so that any failure after this ends every rank (abortJob).
  const dist = joinDistributed();
  if (!dist) return trainProcess(cli);
  process.stderr.write(dist.line + '\n');
  try {
    const code = await trainProcess(cli, dist);
    dist.mpi.finalize();
    return code;
  } catch (err) {
    return abortJob(dist, err);
  }
}

async function trainProcess(cli: CommandLine, dist?: Distributed): Promise<number> {
  const rank = dist?.mpi.rank ?? 0;
  const worldSize = dist?.mpi.size ?? 1;
  const out = rank === 0 ? process.stdout : { write: (_: string) => true, on: () => {} };
  // If whoever reads our output goes away (a wrapper exiting on Ctrl-C), keep going so the checkpoint still gets saved.
  out.on('error', () => {});
  process.stderr.on('error', () => {});
  // Under MPI each rank's terminal is a pseudo-terminal the launcher merges: plain lines, and only rank 0's.
  const progress = new ProgressLine(dist ? { isTTY: false, write: (t: string) => (rank === 0 ? process.stderr.write(t) : true) } : process.stderr, 10);
  const log = (m: string): void => progress.log(m);
  const cmd = commandFromCli(cli);
  if (cmd.kind === 'help') {
    out.write(cmd.text + '\n');
    return 0;
  }
  let config = cmd.config;
  let runDir: string;
  let resumeFrom: string | undefined;
  if (config.resume) {
    const plan = planResume(config.resume, cmd.flags);
    ({ config, runDir } = plan);
    resumeFrom = plan.checkpoint;
    for (const line of plan.skipped) log(line);
  } else {
    runDir = config.out || join(RUNS_ROOT, `${config.preset}-${timestamp()}`);
    config = Object.freeze({ ...config, out: runDir });
  }
  progress.every = config.logEvery;

  // Checked before anything is printed, read or opened: a bad file is a usage error.
  const gpuTiles = openGpuTiles(config.gpuTiles, config.cacheDir, (line) => log(line));
  log(`AIM pretraining: preset ${config.preset}${resumeFrom ? `, resuming ${resumeFrom}` : ''}`);
  log(`config (saved to ${join(runDir, 'config.json')} and every checkpoint):\n${formatConfig(config)}`);
  const data = await dataSpecs(config, log);
  const notShown = showRankItsGpu(dist, config.backend);
  const compute = await selectCompute(config.backend, { boundsChecks: config.gpuBoundsChecks === 'on' });
  log(`backend: ${compute.backend} (${compute.reason})`);
  for (const s of compute.skipped) log(`  skipped ${s.name}: ${s.why}`);
  const gpus = rankGpus(dist, compute.hardwareAdapter === true, compute.device ? shownVulkanDevice() : undefined, notShown?.why);
  if (gpus.line) log(gpus.line);

  if (gpuTiles && !compute.device) log(gpuTiles.unusedLine());
  const hostParts = createRunParts({ config, data, backend: compute.backend });
  const m = hostParts.model;
  let parts = hostParts;
  const onDevice = engineDeviceOf(compute);
  if (onDevice) {
    // Micro-batches are config.batchSize images; accumulation keeps the global batch.
    const maxBindingBytes = onDevice.device.limits.maxStorageBufferBindingSize;
    const plans = activationPlans(m.config, config.batchSize, maxBindingBytes);
    const target = { software: onDevice.software, memory: readGpuMemory, ranksPerGpu: gpus.ranksPerGpu };
    const activations = decideActivations(config.activations, plans, target);
    if (activations.why) log(`engine: --activations auto: ${activations.mode}, ${activations.why}`);
    // Every rank reads the GPUs' free memory before any rank allocates its engine there: a reading taken while another
    // rank fills its GPU would count that rank's arena as taken and choose more recomputation than the GPU needs.
    if (dist && config.activations === AUTO_ACTIVATIONS) dist.mpi.barrier();
    const options = { batch: config.batchSize, activations: activations.mode };
    const shapes = describeEngine(m.config, { ...options, maxBindingBytes }).gemmShapes;
    const tilesFor = async () => gpuTiles?.tilesFor(onDevice, shapes);
    const gemmTiles = dist && config.gpuTiles === AUTO_GPU_TILES ? await firstOnEachMachine(dist, tilesFor) : await tilesFor();
    const engine = await AimEngine.create(onDevice.device, m.config, { ...options, gemmTiles });
    if (gpuTiles) log(gpuTiles.usedLine(engine));
    parts = { ...hostParts, engine };
    log(`engine: ${mib(engine.allocatedBytes)} on the GPU (parameters, gradients, AdamW moments, ${KEPT_ACTIVATIONS[activations.mode]})`);
    log(activationPlansLine(plans, options.batch));
  }
  log(
    `model: ${m.config.name}, ${(m.parameterCount() / 1e6).toFixed(2)}M parameters (trunk + pretraining head), ` +
      `${m.config.imageSize} px, patch ${m.config.patchSize}, ${(m.config.imageSize / m.config.patchSize) ** 2} patches; ` +
      `global batch ${config.batchSize * config.accum} = ${config.batchSize} x ${config.accum}` +
      (worldSize > 1 ? ` (${worldSize} ranks x ${config.accum / worldSize} micro-batches each)` : ''),
  );
  log(`data: train ${data.train}${data.val ? `; validation ${data.val}` : '; no validation'}${worldSize > 1 ? `; ${DATA_SPLIT_LINES[config.dataSplit]}` : ''}`);
  log(`run folder: ${runDir}`);

  let stopRequested = false;
  let firstSignalAt = 0;
  const resumeCommand = `npx nx run trainer:train -- --resume ${runDir}`;
  const onSignal = (signal: NodeJS.Signals): void => {
    // `nx run` relays the terminal's Ctrl-C as SIGTERM right after the SIGINT itself: one interruption, not two.
    if (stopRequested && Date.now() - firstSignalAt > 3000) {
      log(`${signal} again: exiting without saving`);
      process.exit(130);
    }
    if (stopRequested) return;
    stopRequested = true;
    firstSignalAt = Date.now();
    // Say how to resume now: a wrapper (nx) may stop showing this process's output before the save ends.
    log(`${signal}: finishing the steps under way, then saving a checkpoint; resume with: ${resumeCommand}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A fresh run that fails before its first step leaves no folder behind (runPretraining creates it on entry).
  const createdRunDir = rank === 0 && !resumeFrom && !existsSync(runDir);
  let stepsDone = 0;
  let lastVal: number | undefined;
  try {
    const summary = await runPretraining({
      config,
      runDir,
      parts,
      resumeFrom,
      shouldStop: () => stopRequested,
      ...(dist ? { parallel: dist.mpi } : {}),
      hooks: {
        onStep: (r) => {
          stepsDone++;
          progress.update({ ...r, valLoss: lastVal });
        },
        onValidation: (step, loss) => {
          lastVal = loss;
          log(`validation loss ${loss.toFixed(4)} at step ${step}`);
        },
        onCheckpoint: (dir, _step, written) => log(`checkpoint ${dir} (${(written.bytes / 1e6).toFixed(1)} MB in ${written.seconds.toFixed(1)} s)`),
        onMessage: log,
      },
    });
    progress.end();
    out.write(summaryText(summary, resumeCommand, worldSize) + '\n');
    return 0;
  } catch (err) {
    progress.end();
    if (stepsDone === 0 && createdRunDir) {
      rmSync(runDir, { recursive: true, force: true });
    } else if (stepsDone === 0 && !resumeFrom && existsSync(runDir)) {
      log(`note: ${runDir} existed before this failed start; it now also holds this start's config.json and metrics.jsonl`);
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    m.dispose();
    // Destroying the device before exit: Dawn tearing down live objects at process exit can crash.
    compute.device?.destroy();
  }
}

export const TRAIN_COMMAND: CommandDefinition = {
  name: 'trainer:train',
  usage,
  spec: { flags: TRAIN_FLAGS },
  usageErrors: [ConfigError],
  run: (cli) => train(cli),
};

main(TRAIN_COMMAND);
