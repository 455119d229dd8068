// Atomic checkpoint folders: a failed save never replaces `latest`, keep-last-K, dangling pointers recover.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_MARKER, latestCheckpoint, listCheckpoints, saveCheckpointDir } from '../src/index.js';

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
