// Crash-safe checkpoint directories: write into a temp dir, fsync, rename into place, then move the `latest` pointer.
// A kill at any moment leaves either the previous checkpoint or the new one as `latest`, never a torn one.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const STEP_DIR = /^step-(\d+)$/;
const POINTER = 'latest';
/** Written last inside a checkpoint; a directory without it is never treated as a checkpoint. */
export const CHECKPOINT_MARKER = 'state.json';

export const checkpointDirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(p);
    else if (entry.isFile()) fsyncPath(p);
  }
  fsyncPath(dir);
}

/** Writes `content` to `path` atomically (temp file, fsync, rename, fsync of the folder). */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const dir = join(path, '..');
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  fsyncPath(tmp);
  renameSync(tmp, path);
  fsyncPath(dir);
}

/** Complete checkpoints under `root`, oldest first. */
export function listCheckpoints(root: string): Array<{ step: number; dir: string }> {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const found: Array<{ step: number; dir: string }> = [];
  for (const name of names) {
    const m = STEP_DIR.exec(name);
    if (!m) continue;
    const dir = join(root, name);
    try {
      if (statSync(join(dir, CHECKPOINT_MARKER)).isFile()) found.push({ step: Number(m[1]), dir });
    } catch {
      // incomplete: skip
    }
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The checkpoint `latest` points to; if the pointer is missing or dangling, the newest complete checkpoint. */
export function latestCheckpoint(root: string): string | undefined {
  try {
    const name = readFileSync(join(root, POINTER), 'utf8').trim();
    if (STEP_DIR.test(name) && statSync(join(root, name, CHECKPOINT_MARKER)).isFile()) return join(root, name);
  } catch {
    // fall through to the scan
  }
  return listCheckpoints(root).at(-1)?.dir;
}

export interface SaveCheckpointOptions {
  /** Folder holding step-NNNNNNNN checkpoint folders and the `latest` pointer. */
  readonly root: string;
  readonly step: number;
  /** Keep this many newest checkpoints (>= 1); older ones are deleted after the new one is in place. */
  readonly keep: number;
  /** Fills the temp folder; must write CHECKPOINT_MARKER last. */
  readonly write: (tmpDir: string) => Promise<void>;
}

/** Saves a checkpoint atomically and returns its final folder. */
export async function saveCheckpointDir(options: SaveCheckpointOptions): Promise<string> {
  const { root, step, keep } = options;
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`checkpoint: keep must be an integer >= 1, got ${keep}`);
  await mkdir(root, { recursive: true });
  const name = checkpointDirName(step);
  const tmp = join(root, `.tmp-${name}-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    await options.write(tmp);
    statSync(join(tmp, CHECKPOINT_MARKER));
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err instanceof Error && /ENOENT/.test(err.message) && err.message.includes(CHECKPOINT_MARKER)
      ? new Error(`checkpoint writer did not write ${CHECKPOINT_MARKER}`)
      : err;
  }
  fsyncTree(tmp);
  const final = join(root, name);
  // A checkpoint of the same step exists (a resumed run saving again): move it aside, never delete before the swap.
  let displaced: string | undefined;
  try {
    statSync(final);
    displaced = join(root, `.old-${name}-${process.pid}-${Date.now()}`);
    renameSync(final, displaced);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  renameSync(tmp, final);
  fsyncPath(root);
  writeFileAtomic(join(root, POINTER), name + '\n');
  if (displaced) rmSync(displaced, { recursive: true, force: true });
  prune(root, keep, final);
  return final;
}

/** Deletes all but the newest `keep` checkpoints (never `current`) and leftovers of interrupted saves. */
function prune(root: string, keep: number, current: string): void {
  const all = listCheckpoints(root);
  for (const { dir } of all.slice(0, Math.max(0, all.length - keep))) {
    if (dir !== current) rmSync(dir, { recursive: true, force: true });
  }
  // One process saves at a time, so any temp or displaced folder left now comes from a killed save.
  for (const name of readdirSync(root)) {
    if (name.startsWith('.tmp-') || name.startsWith('.old-')) rmSync(join(root, name), { recursive: true, force: true });
  }
}
