// Finds what `--resume` points at and rebuilds the run's config from its checkpoint plus the flags given now.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHECKPOINT_MARKER, ConfigError, latestCheckpoint, readCheckpointState, resolveCheckpoint, resolveConfig, type ConfigValues, type TrainConfig } from '@aim/train';

/** Default parent of run folders. */
export const RUNS_ROOT = 'runs';

/** The newest checkpoint of any run under `runsRoot` (by the time its state.json was written). */
export function newestRunCheckpoint(runsRoot: string): string | undefined {
  let best: { dir: string; mtime: number } | undefined;
  let names: string[];
  try {
    names = readdirSync(runsRoot);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const ckpt = latestCheckpoint(join(runsRoot, name, 'checkpoints'));
    if (!ckpt) continue;
    const mtime = statSync(join(ckpt, CHECKPOINT_MARKER)).mtimeMs;
    if (!best || mtime > best.mtime) best = { dir: ckpt, mtime };
  }
  return best?.dir;
}

export interface ResumePlan {
  readonly checkpoint: string;
  readonly runDir: string;
  readonly config: TrainConfig;
}

/**
 * `--resume latest` (or bare `--resume`): the newest checkpoint under runs/ (or under --out when given);
 * `--resume <dir>`: a checkpoint folder or a run folder. The config is the checkpoint's, with `stopAt` cleared,
 * then the flags given on this command line.
 */
export function planResume(resume: string, flags: ConfigValues, runsRoot = RUNS_ROOT): ResumePlan {
  let checkpoint: string | undefined;
  if (resume === 'latest') {
    const out = flags.out as string | undefined;
    checkpoint = out ? latestCheckpoint(join(out, 'checkpoints')) : newestRunCheckpoint(runsRoot);
    if (!checkpoint) throw new ConfigError(`--resume: no checkpoint found under ${out ?? runsRoot}/*/checkpoints; pass --resume <run or checkpoint folder>`);
  } else {
    try {
      checkpoint = resolveCheckpoint(resume);
    } catch (err) {
      throw new ConfigError(`--resume ${resume}: ${(err as Error).message}`);
    }
  }
  const state = readCheckpointState(checkpoint);
  const config = resolveConfig({ file: { ...state.config, stopAt: 0, resume: '' }, flags: { ...flags, resume: checkpoint } });
  const runDir = (flags.out as string | undefined) || dirname(dirname(checkpoint));
  return { checkpoint, runDir, config: Object.freeze({ ...config, out: runDir }) };
}
