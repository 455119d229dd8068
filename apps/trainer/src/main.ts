// `npx nx run trainer:train [-- flags]`: resolve the config, prepare data, pick a backend, pretrain, report.
import { join } from 'node:path';
import { reserveDecodeThreads } from '@aim/data';
import { selectBackend } from '@aim/model';
import {
  ConfigError,
  NonFiniteLossError,
  createRunParts,
  formatConfig,
  runPretraining,
  type RunSummary,
  type TrainConfig,
} from '@aim/train';
import { parseArgs } from './cli.js';
import { prepareMnist } from '@aim/shards';
import { ProgressLine, formatDuration } from './progress.js';
import { RUNS_ROOT, planResume } from './resume.js';

// Before any asynchronous I/O: libuv sizes the thread pool sharp decodes on when it first starts.
reserveDecodeThreads();

const timestamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

async function dataSpecs(config: TrainConfig, log: (m: string) => void): Promise<{ train: string; val?: string }> {
  const needsMnist = config.data === 'mnist' || config.valData === 'mnist';
  const mnist = needsMnist ? await prepareMnist(join(config.cacheDir, 'mnist'), log) : undefined;
  return {
    train: config.data === 'mnist' ? mnist!.train : config.data,
    ...(config.valData === 'mnist' ? { val: mnist!.val } : config.valData !== '' ? { val: config.valData } : {}),
  };
}

function summaryText(s: RunSummary, resumeCommand: string): string {
  const lines = [
    `${s.stopReason === 'completed' ? 'done' : `stopped (${s.stopReason === 'signal' ? 'signal' : '--stop-at'})`}: ` +
      `step ${s.finalStep}/${s.totalSteps} (this session ${s.startStep} -> ${s.finalStep}) in ${formatDuration(s.wallSeconds)}`,
    `train loss ${s.firstLoss?.toFixed(4) ?? '-'} (first step) -> ${s.lastLoss?.toFixed(4) ?? '-'} (last step)` +
      (s.lastValLoss !== undefined ? `; validation loss ${s.lastValLoss.toFixed(4)}` : ''),
    `throughput ${s.imagesPerSecond.toFixed(1)} img/s over ${formatDuration(s.trainSeconds)} of steps; ` +
      `waited ${s.dataWaitSeconds.toFixed(1)} s for data`,
  ];
  const stats = s.dataStats as { yielded?: number; rejectedTotal?: number; rejected?: Record<string, number>; readErrors?: number } | undefined;
  if (stats) {
    const reasons = Object.entries(stats.rejected ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`data: ${stats.yielded ?? 0} images loaded, ${stats.rejectedTotal ?? 0} rejected${reasons ? ` (${reasons})` : ''}, ${stats.readErrors ?? 0} read errors`);
  }
  lines.push(
    `run folder ${s.runDir}: metrics.jsonl, loss-curve.svg, config.json` + (s.checkpoint ? `, checkpoint ${s.checkpoint}` : ''),
  );
  if (s.stopReason !== 'completed') lines.push(`resume with: ${resumeCommand}`);
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const out = process.stdout;
  // If whoever reads our output goes away (a wrapper exiting on Ctrl-C), keep going so the checkpoint still gets saved.
  out.on('error', () => {});
  const progress = new ProgressLine(out, 10);
  const log = (m: string): void => progress.log(m);
  let config: TrainConfig;
  let runDir: string;
  let resumeFrom: string | undefined;
  try {
    const cmd = parseArgs(argv);
    if (cmd.kind === 'help') {
      out.write(cmd.text + '\n');
      return 0;
    }
    config = cmd.config;
    if (config.resume) {
      const plan = planResume(config.resume, cmd.flags);
      ({ config, runDir } = plan);
      resumeFrom = plan.checkpoint;
      for (const line of plan.skipped) log(line);
    } else {
      runDir = config.out || join(RUNS_ROOT, `${config.preset}-${timestamp()}`);
      config = Object.freeze({ ...config, out: runDir });
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  progress.every = config.logEvery;

  log(`AIM pretraining: preset ${config.preset}${resumeFrom ? `, resuming ${resumeFrom}` : ''}`);
  log(`config (saved to ${join(runDir, 'config.json')} and every checkpoint):\n${formatConfig(config)}`);
  const data = await dataSpecs(config, log);
  const backend = await selectBackend(config.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  for (const s of backend.skipped) log(`  skipped ${s.name}: ${s.why}`);

  const parts = createRunParts({ config, data, backend: backend.name });
  const m = parts.model;
  log(
    `model: ${m.config.name}, ${(m.parameterCount() / 1e6).toFixed(2)}M parameters (trunk + pretraining head), ` +
      `${m.config.imageSize} px, patch ${m.config.patchSize}, ${(m.config.imageSize / m.config.patchSize) ** 2} patches; ` +
      `global batch ${config.batchSize * config.accum} = ${config.batchSize} x ${config.accum}`,
  );
  log(`data: train ${data.train}${data.val ? `; validation ${data.val}` : '; no validation'}`);
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
    log(`${signal}: finishing the current step, then saving a checkpoint; resume with: ${resumeCommand}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let lastVal: number | undefined;
  try {
    const summary = await runPretraining({
      config,
      runDir,
      parts,
      resumeFrom,
      shouldStop: () => stopRequested,
      hooks: {
        onStep: (r) => progress.update({ ...r, valLoss: lastVal }),
        onValidation: (step, loss) => {
          lastVal = loss;
          log(`validation loss ${loss.toFixed(4)} at step ${step}`);
        },
        onCheckpoint: (dir) => log(`checkpoint ${dir}`),
        onMessage: log,
      },
    });
    progress.end();
    out.write(summaryText(summary, resumeCommand) + '\n');
    return 0;
  } catch (err) {
    progress.end();
    if (err instanceof NonFiniteLossError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    m.dispose();
  }
}

// Exit explicitly: worker pools and the wasm runtime may hold the event loop open after the run.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
