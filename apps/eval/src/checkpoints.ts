// Finds the checkpoints to probe: one safetensors file, one checkpoint folder, or every checkpoint of a run folder,
// each with its step and the pretraining validation loss recorded for it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CHECKPOINT_MARKER, listCheckpoints, readMetrics, verifyCheckpoint } from '@aim/train';

export interface CheckpointRef {
  /** The safetensors file holding the model state dict. */
  readonly file: string;
  /** Display name: the checkpoint folder or file as given. */
  readonly label: string;
  readonly step: number | null;
  readonly valLoss: number | null;
}

/** The model safetensors inside a checkpoint folder: `model.safetensors`, else the only *.safetensors there. */
function modelFileIn(dir: string): string {
  const preferred = join(dir, 'model.safetensors');
  if (existsSync(preferred)) return preferred;
  const candidates = readdirSync(dir).filter((f) => f.endsWith('.safetensors') && !/optim/i.test(f));
  if (candidates.length === 1) return join(dir, candidates[0]);
  throw new Error(
    `checkpoint folder ${dir}: expected model.safetensors or exactly one model *.safetensors, found ${candidates.length ? candidates.join(', ') : 'none'}`,
  );
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Step and validation loss from a checkpoint folder's state.json (fields `step` and `valLoss`, as the trainer writes them). */
function stateOf(dir: string): { step: number | null; valLoss: number | null } {
  try {
    const s = JSON.parse(readFileSync(join(dir, CHECKPOINT_MARKER), 'utf8')) as Record<string, unknown>;
    return { step: numberOrNull(s.step), valLoss: numberOrNull(s.valLoss) };
  } catch {
    return { step: null, valLoss: null };
  }
}

function stepFromName(dir: string): number | null {
  const m = /step-(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

/** Validation losses of a run by step, from its metrics.jsonl (latest record per step wins). */
function runValLosses(runDir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of readMetrics(join(runDir, 'metrics.jsonl'))) if (r.kind === 'val') out.set(r.step, r.loss);
  return out;
}

function fromFolder(dir: string, runVal: Map<number, number>): CheckpointRef {
  const state = stateOf(dir);
  const step = state.step ?? stepFromName(dir);
  return {
    file: modelFileIn(dir),
    label: dir,
    step,
    valLoss: state.valLoss ?? (step === null ? null : (runVal.get(step) ?? null)),
  };
}

/**
 * Resolves `--checkpoint`: a .safetensors file -> that file; a checkpoint folder (holding state.json) -> its model
 * file; a run folder (holding checkpoints/) -> all its complete checkpoints, oldest first. Checkpoint folders are
 * verified against the SHA-256s in their state.json (@aim/train's verifyCheckpoint): a damaged folder given by name is
 * an error; in a run folder each damaged one is left out and reported through `onSkip`, one line each.
 */
export function resolveCheckpoints(path: string, onSkip?: (line: string) => void): CheckpointRef[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new Error(`--checkpoint ${path}: no such file or folder`);
  }
  if (st.isFile()) {
    if (!path.endsWith('.safetensors')) throw new Error(`--checkpoint ${path}: a checkpoint file must be a .safetensors file`);
    return [{ file: path, label: path, step: null, valLoss: null }];
  }
  if (existsSync(join(path, CHECKPOINT_MARKER))) {
    const verdict = verifyCheckpoint(path);
    if (!verdict.ok) throw new Error(`--checkpoint ${path}: checkpoint is damaged: ${verdict.problem}`);
    const runDir = join(path, '..', '..');
    return [fromFolder(path, runValLosses(runDir))];
  }
  const root = join(path, 'checkpoints');
  const found = listCheckpoints(root);
  if (found.length === 0) {
    throw new Error(
      `--checkpoint ${path}: neither a .safetensors file, a checkpoint folder (with ${CHECKPOINT_MARKER}) nor a run folder with complete checkpoints under checkpoints/`,
    );
  }
  const runVal = runValLosses(path);
  const usable = found.filter(({ dir }) => {
    const verdict = verifyCheckpoint(dir);
    if (!verdict.ok) onSkip?.(`skipped damaged checkpoint ${dir}: ${verdict.problem}`);
    return verdict.ok;
  });
  if (usable.length === 0) throw new Error(`--checkpoint ${path}: every checkpoint under checkpoints/ is damaged`);
  return usable.map(({ dir }) => fromFolder(dir, runVal));
}
