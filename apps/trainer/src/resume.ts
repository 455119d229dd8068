// Finds what `--resume` points at and rebuilds the run's config from its checkpoint plus the flags given now.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CHECKPOINT_MARKER,
  ConfigError,
  latestCheckpoint,
  latestVerifiedCheckpoint,
  readCheckpointState,
  resolveCheckpoint,
  resolveConfig,
  verifyCheckpoint,
  type ConfigValues,
  type TrainConfig,
} from '@aim/train';

/** Default parent of run folders. */
export const RUNS_ROOT = 'runs';

/**
 * The newest checkpoint that verifies, of the run under `runsRoot` whose latest checkpoint was written last (by the
 * time of its state.json); a run whose checkpoints are all damaged gives way to the next newest. Damaged
 * checkpoints passed over go to `onSkip`, one line each.
 */
export function newestRunCheckpoint(runsRoot: string, onSkip?: (line: string) => void): string | undefined {
  let names: string[];
  try {
    names = readdirSync(runsRoot);
  } catch {
    return undefined;
  }
  const runs: Array<{ root: string; mtime: number }> = [];
  for (const name of names) {
    const root = join(runsRoot, name, 'checkpoints');
    const ckpt = latestCheckpoint(root);
    if (!ckpt) continue;
    let mtime = 0;
    try {
      mtime = statSync(join(ckpt, CHECKPOINT_MARKER)).mtimeMs;
    } catch {
      // vanished since: oldest
    }
    runs.push({ root, mtime });
  }
  runs.sort((a, b) => b.mtime - a.mtime);
  for (const { root } of runs) {
    const dir = latestVerifiedCheckpoint(root, onSkip);
    if (dir) return dir;
  }
  return undefined;
}

export interface ResumePlan {
  readonly checkpoint: string;
  /** One line per damaged checkpoint passed over for an older one that verifies (empty when none). */
  readonly skipped: readonly string[];
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
  const skipped: string[] = [];
  const onSkip = (line: string): void => void skipped.push(line);
  if (resume === 'latest') {
    const out = flags.out as string | undefined;
    checkpoint = out ? latestVerifiedCheckpoint(join(out, 'checkpoints'), onSkip) : newestRunCheckpoint(runsRoot, onSkip);
    if (!checkpoint) {
      const damaged = skipped.length > 0 ? ` that verifies (every one found is damaged: ${skipped.join('; ')})` : '';
      throw new ConfigError(`--resume: no checkpoint found under ${out ?? runsRoot}/*/checkpoints${damaged}; pass --resume <run or checkpoint folder>`);
    }
  } else {
    try {
      checkpoint = resolveCheckpoint(resume, onSkip);
    } catch (err) {
      const damaged = skipped.length > 0 ? ` (${skipped.join('; ')})` : '';
      throw new ConfigError(`--resume ${resume}: ${(err as Error).message}${damaged}`);
    }
  }
  // A checkpoint folder named on the command line is used as is or not at all: no silent substitution.
  const verdict = verifyCheckpoint(checkpoint);
  if (!verdict.ok) {
    throw new ConfigError(
      `--resume ${resume}: checkpoint ${checkpoint} is damaged: ${verdict.problem}; ` +
        `pass its run folder (${dirname(dirname(checkpoint))}) to resume from the newest checkpoint that verifies`,
    );
  }
  const state = readCheckpointState(checkpoint);
  const config = resolveConfig({ file: { ...state.config, stopAt: 0, resume: '' }, flags: { ...flags, resume: checkpoint } });
  const runDir = (flags.out as string | undefined) || dirname(dirname(checkpoint));
  return { checkpoint, skipped, runDir, config: Object.freeze({ ...config, out: runDir }) };
}
