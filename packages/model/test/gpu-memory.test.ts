// The GPU memory reading 'auto' choices rest on: nvidia-smi's CSV, run as a real program found on PATH.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseNvidiaSmiMemory, readGpuMemory } from '../src/index.js';

const MIB = 2 ** 20;
const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

/** A folder holding only an executable `nvidia-smi` with this shell body, put first on PATH. */
function fakeNvidiaSmi(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-nvidia-smi-'));
  const file = join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  process.env.PATH = `${dir}:${savedPath}`;
  return dir;
}

describe('parseNvidiaSmiMemory', () => {
  it('one GPU per line: total, used, free in MiB, to bytes', () => {
    expect(parseNvidiaSmiMemory('81559, 480, 81079\n81559, 20000, 61559\n')).toEqual([
      { totalBytes: 81_559 * MIB, usedBytes: 480 * MIB, freeBytes: 81_079 * MIB },
      { totalBytes: 81_559 * MIB, usedBytes: 20_000 * MIB, freeBytes: 61_559 * MIB },
    ]);
  });

  it('anything else is an error naming the line', () => {
    expect(() => parseNvidiaSmiMemory('')).toThrow('no GPU listed');
    expect(() => parseNvidiaSmiMemory('81559, [N/A], 81079')).toThrow('unexpected line "81559, [N/A], 81079"');
    expect(() => parseNvidiaSmiMemory('81559, 480')).toThrow('unexpected line');
  });
});

describe('readGpuMemory', () => {
  it('asks nvidia-smi for total, used and free memory without units', () => {
    fakeNvidiaSmi('[ "$*" = "--query-gpu=memory.total,memory.used,memory.free --format=csv,noheader,nounits" ] || exit 7\necho "143771, 0, 143771"');
    expect(readGpuMemory()).toEqual({ gpus: [{ totalBytes: 143_771 * MIB, usedBytes: 0, freeBytes: 143_771 * MIB }], source: 'nvidia-smi' });
  });

  it('says why there is no reading: no nvidia-smi, a failing one, or output it cannot read', () => {
    process.env.PATH = mkdtempSync(join(tmpdir(), 'aim-empty-path-'));
    expect(readGpuMemory()).toEqual({ why: 'no nvidia-smi on PATH' });
    fakeNvidiaSmi('echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9');
    expect(readGpuMemory()).toEqual({ why: "nvidia-smi exited with 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." });
    fakeNvidiaSmi('echo "No devices were found"');
    expect(readGpuMemory()).toEqual({ why: 'nvidia-smi: unexpected line "No devices were found"' });
  });
});
