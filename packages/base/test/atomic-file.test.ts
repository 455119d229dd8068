// Atomic writes: the new content appears whole or not at all, and a failed write leaves the old file and no litter.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtomicFile, writeFileAtomic, writeFileAtomicSync } from '../src/atomic-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aim-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const leftovers = (): string[] => readdirSync(dir).filter((name) => name.includes('.tmp-'));

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temporary file', async () => {
    const path = join(dir, 'a.json');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    await writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect([...readFileSync(join(dir, 'b.bin'))]).toEqual([1, 2, 3]);
    expect(leftovers()).toEqual([]);
  });

  it('a writer that fails halfway leaves the old file intact and no temporary file', async () => {
    const path = join(dir, 'a.bin');
    writeFileSync(path, 'old content');
    const failing = async (handle: import('node:fs/promises').FileHandle): Promise<void> => {
      await handle.write(new Uint8Array(1000));
      throw new Error('disk on fire');
    };
    await expect(writeFileAtomic(path, failing)).rejects.toThrow('disk on fire');
    expect(readFileSync(path, 'utf8')).toBe('old content');
    expect(leftovers()).toEqual([]);
  });

  it('a rename that fails (the target is a folder) removes the temporary file', async () => {
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'inside'), { recursive: true });
    await expect(writeFileAtomic(path, 'x')).rejects.toThrow();
    expect(readdirSync(path)).toEqual(['inside']);
    expect(leftovers()).toEqual([]);
  });

  it('concurrent writers of one path each use their own temporary file; one whole content wins', async () => {
    const path = join(dir, 'a.txt');
    const contents = Array.from({ length: 8 }, (_, i) => String(i).repeat(100_000));
    await Promise.all(contents.map((c) => writeFileAtomic(path, c)));
    expect(contents).toContain(readFileSync(path, 'utf8'));
    expect(leftovers()).toEqual([]);
  });
});

describe('AtomicFile', () => {
  it('shows nothing at the final path before commit, and abort leaves the old file', async () => {
    const path = join(dir, 'shard.tar');
    writeFileSync(path, 'old');
    const file = await AtomicFile.open(path);
    await file.handle.write('new');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(leftovers()).toHaveLength(1);
    await file.abort();
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(leftovers()).toEqual([]);
  });
});

describe('writeFileAtomicSync', () => {
  it('replaces the content and leaves no temporary file', () => {
    const path = join(dir, 'latest');
    writeFileSync(path, 'step-1\n');
    writeFileAtomicSync(path, 'step-2\n');
    expect(readFileSync(path, 'utf8')).toBe('step-2\n');
    expect(leftovers()).toEqual([]);
  });

  it('a failed write leaves the old file intact and no temporary file', () => {
    const path = join(dir, 'taken');
    mkdirSync(join(path, 'inside'), { recursive: true });
    expect(() => writeFileAtomicSync(path, 'x')).toThrow();
    expect(readdirSync(path)).toEqual(['inside']);
    expect(leftovers()).toEqual([]);
  });
});
