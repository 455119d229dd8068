// Damaged and hostile input: truncation at every kind of position, corrupt headers, duplicate extensions,
// over-size members, and the raise/warn/skip policies.
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { commandSucceeds, missingSystemDependency } from '../../../vitest.shared.js';
import { readSamples, readTarSamples, ShardWriter, WebDatasetError, type WdsErrorInfo, type WritableSample } from '../src/index.js';
import { bytes, collect, comparable, withTempDir } from './helpers.js';

async function* chunksOf(data: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const block = (n: number) => Math.ceil(n / 512) * 512;

/** A shard of samples with short keys (one 512-byte header per member), and where each sample's first header ends. */
async function makeShard(
  dir: string,
  sizes: number[][],
): Promise<{ data: Uint8Array; samples: WritableSample[]; firstHeaderEnd: number[]; markerStart: number }> {
  const samples = sizes.map((members, i) => {
    const s: WritableSample = { __key__: `k${i}` };
    members.forEach((n, j) => (s[`e${j}`] = new Uint8Array(n).fill((i * 7 + j) & 255)));
    return s;
  });
  const writer = new ShardWriter({ pattern: join(dir, 'one-%d.tar') });
  for (const s of samples) await writer.write(s);
  const [path] = await writer.close();
  const data = new Uint8Array(await readFile(path));
  const firstHeaderEnd: number[] = [];
  let pos = 0;
  for (const members of sizes) {
    firstHeaderEnd.push(pos + 512);
    for (const n of members) pos += 512 + block(n);
  }
  return { data, samples, firstHeaderEnd, markerStart: pos };
}

// Some archives here are written by Python's tarfile, independently of our writer.
const noPython = missingSystemDependency('python3 (tar archives written by tarfile)', 'python3', commandSucceeds('python3', ['-c', 'import tarfile']));

describe('truncated shards', () => {
  it('yield every sample known complete before the cut, then report the damage once', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(fc.nat({ max: 1500 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.integer({ min: 1, max: 3000 }),
          async (sizes, where, chunkSize) => {
            const { data, samples, firstHeaderEnd, markerStart } = await makeShard(dir, sizes);
            const cut = Math.floor(where * data.length);
            const errors: WdsErrorInfo[] = [];
            const got = await collect(
              readTarSamples('mem://cut', chunksOf(data.subarray(0, cut), chunkSize), { errorPolicy: 'warn', onError: (e) => errors.push(e) }),
            );
            // Sample i is known complete once the next sample's first header is whole (or the end marker is there).
            const complete = samples.filter((_, i) => (i + 1 < samples.length ? firstHeaderEnd[i + 1] <= cut : markerStart + 512 <= cut));
            expect(got.map(comparable)).toEqual(complete.map(comparable));
            expect(errors.length).toBe(cut >= markerStart + 512 ? 0 : 1);
            if (errors.length) {
              expect(errors[0].url).toBe('mem://cut');
              expect(errors[0].reason).toMatch(/truncated/);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  it('under the default raise policy, throw a WebDatasetError naming the shard after the good samples', async () => {
    await withTempDir(async (dir) => {
      const { data } = await makeShard(dir, [[10], [2000], [30]]);
      const path = join(dir, 'cut.tar');
      await writeFile(path, data.subarray(0, 1024 + 512 + 1000)); // inside the second sample's data
      const got: string[] = [];
      const run = async () => {
        for await (const s of readSamples(path)) got.push(s.__key__);
      };
      await expect(run()).rejects.toThrow(WebDatasetError);
      await expect(run()).rejects.toThrow(new RegExp(`${path}.*member k1\\.e0 should have 2000 bytes`));
      expect(got).toEqual(['k0', 'k0']);
    });
  });
});

describe('corrupt and hostile members', () => {
  it('a bad header checksum ends the shard and the next shard is still read under warn', async () => {
    await withTempDir(async (dir) => {
      const { data } = await makeShard(dir, [[10], [10], [10]]);
      const bad = new Uint8Array(data);
      bad[2048 + 5] ^= 0xff; // third sample's header: k0 and k1 are complete, nothing tells us k1 is
      await writeFile(join(dir, 'bad.tar'), bad);
      await writeFile(join(dir, 'good.tar'), data);
      const errors: WdsErrorInfo[] = [];
      const got = await collect(readSamples([join(dir, 'bad.tar'), join(dir, 'good.tar')], { errorPolicy: 'warn', onError: (e) => errors.push(e) }));
      expect(got.map((s) => `${s.__url__.slice(dir.length + 1)}:${s.__key__}`)).toEqual(['bad.tar:k0', 'good.tar:k0', 'good.tar:k1', 'good.tar:k2']);
      expect(errors).toHaveLength(1);
      expect(errors[0].reason).toMatch(/bad tar header checksum.*at byte 2048; sample "k1" in progress was dropped/);
      expect(errors[0].key).toBe('k1');
      expect(errors[0].url).toBe(join(dir, 'bad.tar'));
    });
  });

  it.skipIf(noPython)('a duplicate extension drops that sample (reported with its key) and keeps the rest', async () => {
    const tar = await tarOf([
      ['a.txt', 'A'],
      ['b.txt', 'B1'],
      ['b.TXT', 'B2'],
      ['b.cls', '1'],
      ['c.txt', 'C'],
    ]);
    const errors: WdsErrorInfo[] = [];
    const got = await collect(readTarSamples('mem://dup', chunksOf(tar), { errorPolicy: 'skip', onError: (e) => errors.push(e) }));
    expect(got.map((s) => s.__key__)).toEqual(['a', 'c']);
    expect(errors).toEqual([{ url: 'mem://dup', key: 'b', reason: expect.stringMatching(/duplicate extension "txt".*sample dropped/) }]);
    await expect(collect(readTarSamples('mem://dup', chunksOf(tar)))).rejects.toThrow(/mem:\/\/dup \(sample "b"\): duplicate extension/);
  });

  it.skipIf(noPython)('a member over the size limit drops its sample without buffering it; warn without onError logs', async () => {
    const tar = await tarOf([
      ['a.bin', 'x'.repeat(100)],
      ['b.bin', 'x'.repeat(5000)],
      ['b.txt', 'small'],
      ['c.bin', 'x'.repeat(10)],
    ]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const got = await collect(readTarSamples('mem://big', chunksOf(tar), { errorPolicy: 'warn', maxMemberSize: 4096 }));
      expect(got.map((s) => s.__key__)).toEqual(['a', 'c']);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/mem:\/\/big \(sample "b"\): member b\.bin is 5000 bytes, over the member size limit of 4096/);
    } finally {
      warn.mockRestore();
    }
  });

  it('a missing shard is an error naming the path; skip continues with the next shard', async () => {
    await withTempDir(async (dir) => {
      const { data } = await makeShard(dir, [[1]]);
      await writeFile(join(dir, 'ok.tar'), data);
      const missing = join(dir, 'missing.tar');
      await expect(collect(readSamples(missing))).rejects.toThrow(new RegExp(`cannot open shard ${missing}: no such file`));
      const errors: WdsErrorInfo[] = [];
      const got = await collect(readSamples([missing, join(dir, 'ok.tar')], { errorPolicy: 'skip', onError: (e) => errors.push(e) }));
      expect(got.map((s) => s.__key__)).toEqual(['k0']);
      expect(errors.map((e) => e.url)).toEqual([missing]);
    });
  });

  it('a file that is not a tar is reported as such', async () => {
    await expect(collect(readTarSamples('mem://junk', chunksOf(bytes('hello, this is not a tar file'.repeat(40)))))).rejects.toThrow(
      /bad tar header checksum.*not a tar file/,
    );
  });
});

/** A tar written by Python's tarfile (independent of our writer), as bytes. */
async function tarOf(members: [string, string][]): Promise<Uint8Array> {
  const { execFileSync } = await import('node:child_process');
  const script = `
import io, json, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
    for name, text in json.loads(sys.argv[1]):
        data = text.encode(); info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
sys.stdout.buffer.write(buf.getvalue())
`;
  return new Uint8Array(execFileSync('python3', ['-c', script, JSON.stringify(members)]));
}
