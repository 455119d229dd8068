// Crash-safe checkpoint directories: write into a temp dir, fsync, rename into place, then move the `latest` pointer.
// A kill at any moment leaves either the previous checkpoint or the new one as `latest`, never a torn one.
// Every save is sealed: state.json gets the SHA-256 and size of every other file and a SHA-256 of its own content,
// so damage after the save (truncation, a flipped bit) is found by `verifyCheckpoint` before anything loads.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath, writeFileAtomicSync } from '@aim/base/atomic-file';

const STEP_DIR = /^step-(\d+)$/;
const POINTER = 'latest';
/** Written last inside a checkpoint; a directory without it is never treated as a checkpoint. */
export const CHECKPOINT_MARKER = 'state.json';

export const checkpointDirName = (step: number): string => `step-${String(step).padStart(8, '0')}`;

function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(p);
    else if (entry.isFile()) fsyncPath(p);
  }
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
  /**
   * Fills the temp folder; must write CHECKPOINT_MARKER last. May return the digests of files it wrote (by path
   * relative to the folder), hashed as they were written, which sealing then does not read back.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a writer that returns nothing (an async () => {...}) stays valid
  readonly write: (tmpDir: string) => Promise<Readonly<Record<string, CheckpointFileDigest>> | void>;
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
    const written = await options.write(tmp);
    statSync(join(tmp, CHECKPOINT_MARKER));
    sealCheckpoint(tmp, written ?? {});
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
  writeFileAtomicSync(join(root, POINTER), name + '\n');
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

/** Size and SHA-256 of one file of a checkpoint, as recorded in its state.json. */
export interface CheckpointFileDigest {
  readonly bytes: number;
  readonly sha256: string;
}

/** The fields sealing adds to state.json. */
export interface CheckpointSeal {
  /** Every file of the checkpoint but state.json, by path relative to the checkpoint folder ('/' separated). */
  readonly files: Readonly<Record<string, CheckpointFileDigest>>;
  /** SHA-256 of JSON.stringify(state without this field), i.e. of state.json's content. */
  readonly stateSha256: string;
}

const HASH_CHUNK = 4 << 20;

/** SHA-256 (hex) and size of a file, read in chunks (checkpoints of paper-scale models are gigabytes). */
export function fileDigest(path: string): CheckpointFileDigest {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

function checkpointFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...checkpointFiles(dir, rel));
    else if (entry.isFile() && rel !== CHECKPOINT_MARKER) out.push(rel);
  }
  return out.sort();
}

/** A writer's digest of `rel`, after checking that the file on disk has the size it says it wrote. */
function knownDigest(dir: string, rel: string, digest: CheckpointFileDigest | undefined): CheckpointFileDigest | undefined {
  if (digest === undefined) return undefined;
  const size = statSync(join(dir, rel)).size;
  if (size !== digest.bytes) throw new Error(`checkpoint writer says it wrote ${digest.bytes} bytes to ${rel}, the file has ${size}`);
  return { bytes: digest.bytes, sha256: digest.sha256 };
}

/** Bytes of every file of a checkpoint folder, state.json included. */
export function checkpointBytes(dir: string): number {
  return [...checkpointFiles(dir), CHECKPOINT_MARKER].reduce((n, rel) => n + statSync(join(dir, rel)).size, 0);
}

const stateDigest = (state: Record<string, unknown>): string => createHash('sha256').update(JSON.stringify(state)).digest('hex');

/**
 * Adds `files` (size and SHA-256 of every other file) and `stateSha256` to the JSON object in `dir`/state.json.
 * saveCheckpointDir calls it after the writer; exported for tools that assemble checkpoints themselves. Files in
 * `known` take the digest given there (hashed while written; its size is checked against the file's) instead of
 * being read again.
 */
export function sealCheckpoint(dir: string, known: Readonly<Record<string, CheckpointFileDigest>> = {}): void {
  const path = join(dir, CHECKPOINT_MARKER);
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`checkpoint writer wrote a ${CHECKPOINT_MARKER} that is not JSON: ${(err as Error).message}`);
  }
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new Error(`checkpoint writer wrote a ${CHECKPOINT_MARKER} that is not a JSON object`);
  }
  const { files: _f, stateSha256: _s, ...rest } = state as Record<string, unknown>;
  const files: Record<string, CheckpointFileDigest> = {};
  for (const rel of checkpointFiles(dir)) files[rel] = knownDigest(dir, rel, known[rel]) ?? fileDigest(join(dir, rel));
  const sealed: Record<string, unknown> = { ...rest, files };
  sealed.stateSha256 = stateDigest(sealed);
  writeFileAtomicSync(path, JSON.stringify(sealed, null, 2) + '\n');
}

/** What `verifyCheckpoint` found. */
export type CheckpointVerdict =
  /** Every file matches its recorded digest (`sealed`), or the checkpoint predates sealing (no digests to check). */
  | { readonly ok: true; readonly sealed: boolean }
  /** `problem` names the file and what is wrong with it. */
  | { readonly ok: false; readonly problem: string };

const short = (hex: string): string => hex.slice(0, 12);

/**
 * Checks a checkpoint folder against the digests in its state.json: state.json must parse and match its own
 * digest, and every recorded file must exist with its recorded size and SHA-256. A state.json with neither `files`
 * nor `stateSha256` is a checkpoint saved before sealing existed: ok, `sealed: false`.
 */
export function verifyCheckpoint(dir: string): CheckpointVerdict {
  const statePath = join(dir, CHECKPOINT_MARKER);
  let text: string;
  try {
    text = readFileSync(statePath, 'utf8');
  } catch (err) {
    return { ok: false, problem: `${CHECKPOINT_MARKER}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, problem: `${CHECKPOINT_MARKER}: not valid JSON (${(err as Error).message})` };
  }
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    return { ok: false, problem: `${CHECKPOINT_MARKER}: not a JSON object` };
  }
  const { stateSha256, ...rest } = state;
  if (stateSha256 === undefined && rest.files === undefined) return { ok: true, sealed: false };
  if (typeof stateSha256 !== 'string' || stateDigest(rest) !== stateSha256) {
    return { ok: false, problem: `${CHECKPOINT_MARKER}: content does not match its recorded SHA-256 (altered after saving)` };
  }
  const files = rest.files as Record<string, CheckpointFileDigest> | undefined;
  if (files === null || typeof files !== 'object') return { ok: false, problem: `${CHECKPOINT_MARKER}: no file digests` };
  for (const [rel, want] of Object.entries(files)) {
    const path = join(dir, ...rel.split('/'));
    let got: CheckpointFileDigest;
    try {
      got = fileDigest(path);
    } catch (err) {
      return { ok: false, problem: `${rel}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    if (got.bytes !== want.bytes) {
      return { ok: false, problem: `${rel}: ${got.bytes} bytes, ${want.bytes} recorded (${got.bytes < want.bytes ? 'truncated' : 'grown'})` };
    }
    if (got.sha256 !== want.sha256) {
      return { ok: false, problem: `${rel}: SHA-256 ${short(got.sha256)}... differs from the recorded ${short(want.sha256)}... (corrupted)` };
    }
  }
  return { ok: true, sealed: true };
}

/** Throws an Error naming the checkpoint and the problem when `verifyCheckpoint` fails; returns the verdict otherwise. */
export function assertCheckpointVerified(dir: string): CheckpointVerdict & { ok: true } {
  const verdict = verifyCheckpoint(dir);
  if (!verdict.ok) throw new Error(`checkpoint ${dir} is damaged: ${verdict.problem}`);
  return verdict;
}

/**
 * The newest checkpoint under `root` that verifies: the one `latest` points to, else the others newest first.
 * Each broken one passed over is reported through `onSkip` as one line naming it and its problem.
 */
export function latestVerifiedCheckpoint(root: string, onSkip?: (line: string) => void): string | undefined {
  const pointed = latestCheckpoint(root);
  const candidates = listCheckpoints(root)
    .map((c) => c.dir)
    .reverse();
  if (pointed !== undefined && candidates[0] !== pointed) candidates.unshift(pointed);
  const seen = new Set<string>();
  for (const dir of candidates) {
    if (seen.has(dir)) continue;
    seen.add(dir);
    const verdict = verifyCheckpoint(dir);
    if (verdict.ok) return dir;
    onSkip?.(`skipped damaged checkpoint ${dir}: ${verdict.problem}`);
  }
  return undefined;
}
