// Atomic checkpoint folders: a failed save never replaces `latest`, keep-last-K, dangling pointers recover.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { truncateSync } from 'node:fs';
import {
  CHECKPOINT_MARKER,
  assertCheckpointVerified,
  latestCheckpoint,
  latestVerifiedCheckpoint,
  listCheckpoints,
  resolveCheckpoint,
  saveCheckpointDir,
  verifyCheckpoint,
} from '../src/index.js';

const writer = (payload: string) => async (dir: string) => {
  writeFileSync(join(dir, 'model.bin'), payload);
  writeFileSync(join(dir, CHECKPOINT_MARKER), JSON.stringify({ payload }));
};

describe('saveCheckpointDir', () => {
  it('moves latest only after a complete save and keeps the newest K', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'aim-ckpt-')), 'checkpoints');
    for (const step of [10, 20, 30, 40]) await saveCheckpointDir({ root, step, keep: 2, write: writer(`s${step}`) });
    expect(listCheckpoints(root).map((c) => c.step)).toEqual([30, 40]);
    expect(readFileSync(join(latestCheckpoint(root)!, 'model.bin'), 'utf8')).toBe('s40');

    // A save that dies half-way (writer throws after writing part of its files) leaves step 40 as latest.
    await expect(
      saveCheckpointDir({
        root,
        step: 50,
        keep: 2,
        write: async (dir) => {
          writeFileSync(join(dir, 'model.bin'), 'torn');
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(readFileSync(join(latestCheckpoint(root)!, 'model.bin'), 'utf8')).toBe('s40');
    expect(readdirSync(root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);

    // A writer that forgets the marker is an error, not a checkpoint.
    await expect(saveCheckpointDir({ root, step: 60, keep: 2, write: async () => {} })).rejects.toThrow(/did not write state.json/);
  });

  it("seals with the writer's own digests (hashed while writing), and refuses one whose size is not the file's", async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'aim-ckpt-')), 'checkpoints');
    const payload = 'weights';
    const sha256 = createHash('sha256').update(payload).digest('hex');
    const withDigest = (bytes: number) => async (dir: string) => {
      await writer(payload)(dir);
      return { 'model.bin': { bytes, sha256 } };
    };
    const dir = await saveCheckpointDir({ root, step: 1, keep: 2, write: withDigest(payload.length) });
    expect(JSON.parse(readFileSync(join(dir, CHECKPOINT_MARKER), 'utf8')).files).toEqual({ 'model.bin': { bytes: payload.length, sha256 } });
    expect(verifyCheckpoint(dir).ok).toBe(true);
    await expect(saveCheckpointDir({ root, step: 2, keep: 2, write: withDigest(3) })).rejects.toThrow(
      'checkpoint writer says it wrote 3 bytes to model.bin, the file has 7',
    );
    expect(latestCheckpoint(root)).toBe(dir);
  });

  it('ignores leftovers of a killed save and falls back when the pointer dangles', async () => {
    const root = mkdtempSync(join(tmpdir(), 'aim-ckpt-'));
    await saveCheckpointDir({ root, step: 1, keep: 3, write: writer('one') });
    await saveCheckpointDir({ root, step: 2, keep: 3, write: writer('two') });
    // simulate a kill mid-save: a temp folder and a step folder without its marker
    mkdirSync(join(root, '.tmp-step-00000003-999-1'));
    mkdirSync(join(root, 'step-00000004'));
    writeFileSync(join(root, 'step-00000004', 'model.bin'), 'partial');
    expect(latestCheckpoint(root)).toBe(join(root, 'step-00000002'));
    rmSync(join(root, 'step-00000002'), { recursive: true });
    expect(latestCheckpoint(root)).toBe(join(root, 'step-00000001'));
    // the next save cleans the temp leftovers
    await saveCheckpointDir({ root, step: 5, keep: 3, write: writer('five') });
    expect(existsSync(join(root, '.tmp-step-00000003-999-1'))).toBe(false);
    expect(latestCheckpoint(root)).toBe(join(root, 'step-00000005'));
  });

  it('re-saving an existing step replaces it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'aim-ckpt-'));
    await saveCheckpointDir({ root, step: 7, keep: 2, write: writer('first') });
    await saveCheckpointDir({ root, step: 7, keep: 2, write: writer('second') });
    expect(readFileSync(join(latestCheckpoint(root)!, 'model.bin'), 'utf8')).toBe('second');
    expect(readdirSync(root).sort()).toEqual(['latest', 'step-00000007']);
  });
});

/** A checkpoint shaped like the trainer's: two binary files and a state.json written last. */
const trainerLike = (step: number) => async (dir: string) => {
  writeFileSync(join(dir, 'model.safetensors'), randomBytes(40_000 + step));
  writeFileSync(join(dir, 'optimizer.safetensors'), randomBytes(80_000 + step));
  writeFileSync(join(dir, CHECKPOINT_MARKER), JSON.stringify({ format: 'aim-train-checkpoint/1', step, lastLoss: 0.25 }, null, 2));
};

function flipBit(path: string, offset: number, bit = 3): void {
  const buf = readFileSync(path);
  buf[offset] ^= 1 << bit;
  writeFileSync(path, buf);
}

function truncateBy(path: string, bytes: number): void {
  truncateSync(path, readFileSync(path).length - bytes);
}

describe('checkpoint digests', () => {
  it('a save records size and SHA-256 of every file plus a digest of state.json, and verifies', async () => {
    const root = mkdtempSync(join(tmpdir(), 'aim-ckpt-'));
    const dir = await saveCheckpointDir({ root, step: 3, keep: 2, write: trainerLike(3) });
    const state = JSON.parse(readFileSync(join(dir, CHECKPOINT_MARKER), 'utf8'));
    expect(state).toMatchObject({ format: 'aim-train-checkpoint/1', step: 3, lastLoss: 0.25 });
    expect(Object.keys(state.files)).toEqual(['model.safetensors', 'optimizer.safetensors']);
    expect(state.files['model.safetensors'].bytes).toBe(40_003);
    expect(state.files['model.safetensors'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(state.stateSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyCheckpoint(dir)).toEqual({ ok: true, sealed: true });
  });

  // Each damage, to the newest of three checkpoints: verification names the file and the problem, the run-folder
  // lookup falls back to the previous checkpoint with one line naming the damaged one, and loading the damaged one
  // by name is an error.
  const damages: Array<[string, (dir: string) => void, RegExp]> = [
    ['model truncated', (d) => truncateBy(join(d, 'model.safetensors'), 1000), /^model\.safetensors: 39004 bytes, 40004 recorded \(truncated\)$/],
    [
      'model bit-flipped',
      (d) => flipBit(join(d, 'model.safetensors'), 20_000),
      /^model\.safetensors: SHA-256 [0-9a-f]{12}\.\.\. differs from the recorded [0-9a-f]{12}\.\.\. \(corrupted\)$/,
    ],
    ['optimizer truncated', (d) => truncateBy(join(d, 'optimizer.safetensors'), 1), /^optimizer\.safetensors: 80003 bytes, 80004 recorded \(truncated\)$/],
    ['optimizer bit-flipped', (d) => flipBit(join(d, 'optimizer.safetensors'), 79_999, 0), /^optimizer\.safetensors: SHA-256 .* \(corrupted\)$/],
    ['optimizer missing', (d) => rmSync(join(d, 'optimizer.safetensors')), /^optimizer\.safetensors: cannot be read \(ENOENT\)$/],
    ['state.json truncated', (d) => truncateBy(join(d, CHECKPOINT_MARKER), 40), /^state\.json: not valid JSON/],
    [
      'state.json altered but valid JSON (step 4 -> 5)',
      (d) => writeFileSync(join(d, CHECKPOINT_MARKER), readFileSync(join(d, CHECKPOINT_MARKER), 'utf8').replace('"step": 4', '"step": 5')),
      /^state\.json: content does not match its recorded SHA-256/,
    ],
    [
      'state.json digests dropped',
      (d) => {
        const st = JSON.parse(readFileSync(join(d, CHECKPOINT_MARKER), 'utf8'));
        delete st.stateSha256;
        writeFileSync(join(d, CHECKPOINT_MARKER), JSON.stringify(st));
      },
      /^state\.json: content does not match its recorded SHA-256/,
    ],
    [
      'state.json bit-flipped in a digest',
      (d) => flipBit(join(d, CHECKPOINT_MARKER), readFileSync(join(d, CHECKPOINT_MARKER), 'utf8').indexOf('"sha256": "') + 12, 0),
      /^state\.json: content does not match/,
    ],
  ];
  for (const [what, damage, problem] of damages) {
    it(`${what}: detected, and resume falls back to the previous checkpoint`, async () => {
      const run = mkdtempSync(join(tmpdir(), 'aim-run-'));
      const root = join(run, 'checkpoints');
      for (const step of [2, 3, 4]) await saveCheckpointDir({ root, step, keep: 3, write: trainerLike(step) });
      const newest = join(root, 'step-00000004');
      damage(newest);
      const verdict = verifyCheckpoint(newest);
      expect(verdict.ok).toBe(false);
      expect(verdict.ok ? '' : verdict.problem).toMatch(problem);
      expect(() => assertCheckpointVerified(newest)).toThrow(`checkpoint ${newest} is damaged: `);

      const lines: string[] = [];
      expect(resolveCheckpoint(run, (l) => lines.push(l))).toBe(join(root, 'step-00000003'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^skipped damaged checkpoint ${newest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(lines[0].slice(lines[0].indexOf(': ') + 2)).toMatch(problem);
      // the pointer still names the damaged one; the untouched ones verify
      expect(latestCheckpoint(root)).toBe(newest);
      expect(verifyCheckpoint(join(root, 'step-00000003'))).toEqual({ ok: true, sealed: true });
    });
  }

  it('falls back over several damaged checkpoints, and says so when none verifies', async () => {
    const run = mkdtempSync(join(tmpdir(), 'aim-run-'));
    const root = join(run, 'checkpoints');
    for (const step of [1, 2, 3]) await saveCheckpointDir({ root, step, keep: 3, write: trainerLike(step) });
    flipBit(join(root, 'step-00000003', 'model.safetensors'), 5);
    truncateBy(join(root, 'step-00000002', 'optimizer.safetensors'), 7);
    const lines: string[] = [];
    expect(latestVerifiedCheckpoint(root, (l) => lines.push(l))).toBe(join(root, 'step-00000001'));
    expect(lines.map((l) => l.split(': ')[0])).toEqual([
      `skipped damaged checkpoint ${join(root, 'step-00000003')}`,
      `skipped damaged checkpoint ${join(root, 'step-00000002')}`,
    ]);
    flipBit(join(root, 'step-00000001', CHECKPOINT_MARKER), 10);
    expect(latestVerifiedCheckpoint(root)).toBeUndefined();
    expect(() => resolveCheckpoint(run)).toThrow(/no checkpoint under .* verifies \(all damaged\)/);
  });

  it('a checkpoint saved before digests existed loads unverified; damage to its digests is not mistaken for that', async () => {
    const root = mkdtempSync(join(tmpdir(), 'aim-ckpt-'));
    const dir = join(root, 'step-00000001');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
    writeFileSync(join(dir, CHECKPOINT_MARKER), JSON.stringify({ format: 'aim-train-checkpoint/1', step: 1 }));
    expect(verifyCheckpoint(dir)).toEqual({ ok: true, sealed: false });
    // only `files` left (stateSha256 lost): not a legacy checkpoint
    writeFileSync(join(dir, CHECKPOINT_MARKER), JSON.stringify({ format: 'aim-train-checkpoint/1', step: 1, files: {} }));
    expect(verifyCheckpoint(dir).ok).toBe(false);
  });
});
