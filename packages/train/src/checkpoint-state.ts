// A training checkpoint's contents: state.json (step, data position, config), the model and the AdamW moments.
// Reading and restoring them on resume, and writing them (rank 0 only) through the atomic checkpoint folders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, saveAimCheckpoint, writeSafetensors, type AimModel, type SafetensorsWriteEntry } from '@aim/model';
import { writeFileAtomicSync as writeFileAtomic } from '@aim/base/atomic-file';
import { CHECKPOINT_MARKER, latestCheckpoint, latestVerifiedCheckpoint, saveCheckpointDir } from './checkpoint-dir.js';
import { checkValues, type TrainConfig } from './config.js';
import type { DataPosition } from './run-parts.js';

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

export interface WriteCheckpointOptions {
  /** The run's checkpoints/ folder. */
  readonly root: string;
  readonly keep: number;
  readonly state: CheckpointState;
  /** The model as it stands at this step (its weights go to model.safetensors). */
  readonly model: AimModel;
  /** optimizer.safetensors: the AdamW moments (`optimizer.m.<param>`, `optimizer.v.<param>`), each produced when written. */
  readonly moments: readonly SafetensorsWriteEntry[];
}

/** Writes one checkpoint folder atomically (model, optimizer, state.json, sealed); returns its path. */
export async function writeCheckpoint(o: WriteCheckpointOptions): Promise<string> {
  const { state } = o;
  const meta = { step: String(state.step), variant: state.config.variant };
  return saveCheckpointDir({
    root: o.root,
    step: state.step,
    keep: o.keep,
    write: async (dir) => {
      // model.safetensors is a plain AIM checkpoint (config in its metadata) that @aim/model and the eval app load.
      const model = await saveAimCheckpoint(join(dir, MODEL_FILE), { model: o.model, metadata: meta });
      const moments = await writeSafetensors(join(dir, OPTIMIZER_FILE), o.moments, {
        ...meta,
        contents: 'AdamW moments',
        updates: String(state.optimizerUpdates),
      });
      writeFileAtomic(join(dir, CHECKPOINT_MARKER), JSON.stringify(state, null, 2) + '\n');
      return { [MODEL_FILE]: model, [OPTIMIZER_FILE]: moments };
    },
  });
}

/** Loads every state-dict tensor of `model` from a (verified) checkpoint's model.safetensors, one tensor at a time. */
export async function loadCheckpointModel(checkpointDir: string, model: AimModel): Promise<void> {
  const path = join(checkpointDir, MODEL_FILE);
  const file = await readSafetensors(path);
  try {
    for (const { name } of model.stateSpecs()) {
      if (!file.tensors.has(name)) throw new Error(`${path}: missing tensor '${name}' (was it saved from variant ${model.config.name}?)`);
      model.loadStateData(name, await file.readFloat32(name), file.info(name).shape);
    }
  } finally {
    await file.close();
  }
}

/** Reads one AdamW moment tensor by name, checking it has the parameter's shape. */
export type MomentReader = (name: string, shape: readonly number[]) => Promise<Float32Array>;

/** Opens a (verified) checkpoint's optimizer.safetensors for `use`, which reads the moments one tensor at a time. */
export async function readCheckpointMoments<T>(checkpointDir: string, use: (read: MomentReader) => Promise<T>): Promise<T> {
  const path = join(checkpointDir, OPTIMIZER_FILE);
  const file = await readSafetensors(path);
  try {
    return await use(async (name, shape) => {
      const info = file.tensors.get(name);
      if (!info) throw new Error(`${path}: missing optimizer tensor '${name}'`);
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))
        throw new Error(`${path}: optimizer tensor '${name}' has shape [${info.shape}], expected [${shape}]`);
      return file.readFloat32(name);
    });
  } finally {
    await file.close();
  }
}
