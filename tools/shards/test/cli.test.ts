// The aim-shards command line: inspect reports, exit codes, usage errors, and the real executable.
import { ShardWriter } from '@aim/webdataset';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inspectShards, runCli } from '../src/index.js';
import { captureIo, withTempDir, writeIdxPair } from './helpers.js';

const projectDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function makeShards(dir: string): Promise<string[]> {
  const writer = new ShardWriter({ pattern: join(dir, 'd-%02d.tar'), maxCount: 4 });
  for (let i = 0; i < 10; i++) await writer.write({ __key__: `s${i}`, jpg: new Uint8Array(100 + i), cls: i % 3, ...(i % 2 ? { txt: 'odd' } : {}) });
  return writer.close();
}

describe('inspect', () => {
  it('counts shards, samples, extensions and bytes', async () => {
    await withTempDir(async (dir) => {
      await makeShards(dir);
      const report = await inspectShards(join(dir, 'd-{00..02}.tar'));
      expect(report.shards).toBe(3);
      expect(report.samples).toBe(10);
      expect(report.perShard.map((s) => s.samples)).toEqual([4, 4, 2]);
      expect(report.extensions).toEqual({
        jpg: { samples: 10, bytes: 1045 },
        cls: { samples: 10, bytes: 10 },
        txt: { samples: 5, bytes: 15 },
      });
      expect(report.bytes).toBe(1070);
      expect(report.errors).toEqual([]);
      const io = captureIo();
      expect(await runCli(['inspect', join(dir, 'd-{00..02}.tar'), '--quiet'], io)).toBe(0);
      expect(io.out()).toMatch(
        /shards: +3\nsamples: +10 \(per shard: min 2, max 4\)\nbytes: +1\.1 kB of member data\nextensions:\n +cls +10 samples +10 B\n +jpg +10 samples +1\.0 kB\n +txt +5 samples +15 B\nerrors: +0/,
      );
    });
  });

  it('reports a truncated shard and a missing one, keeps reading, and exits 1', async () => {
    await withTempDir(async (dir) => {
      const shards = await makeShards(dir);
      const data = await readFile(shards[1]);
      await writeFile(shards[1], data.subarray(0, 512 * 7 + 50)); // inside sample s5's data
      const io = captureIo();
      const code = await runCli(['inspect', join(dir, 'd-{00..03}.tar'), '--json', '--quiet'], io);
      expect(code).toBe(1);
      const report = JSON.parse(io.out());
      expect(report.samples).toBe(4 + 1 + 2); // s0-s3, s4 (complete before the cut), s8-s9
      expect(report.errors).toHaveLength(2);
      expect(report.errors[0]).toMatchObject({ url: shards[1], reason: expect.stringMatching(/truncated/) });
      expect(report.errors[1]).toMatchObject({ url: join(dir, 'd-03.tar'), reason: expect.stringMatching(/no such file/) });
    });
  });
});

describe('command line', () => {
  it('usage errors exit 2 with a clear message; --help prints usage', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'; commands: from-folder, from-idx, inspect/],
      [['inspec', 'x.tar'], /unknown command 'inspec' \(did you mean 'inspect'\?\)/],
      [[], /missing command: one of from-folder, from-idx, inspect/],
      [['from-idx', 'a'], /expected <images-idx> <labels-idx>, got 1 argument/],
      [['from-idx', 'a', 'b'], /from-idx needs --out <pattern>/],
      [['from-idx', 'a', 'b', '--out', 'o-%d.tar', '--maxcount', 'ten'], /--maxcount: must be an integer >= 1, got 'ten'/],
      [['inspect', 'x.tar', '--out', 'y'], /unknown flag --out; valid flags: --help --json --quiet --verbose/],
      [['inspect', '--jsno'], /unknown flag --jsno \(did you mean --json\?\)/],
      [['from-folder', 'd', '--out', 'o-%d.tar', '--seed', '1', '--no-shuffle'], /either --seed or --no-shuffle/],
    ];
    for (const [argv, message] of cases) {
      const io = captureIo();
      expect(await runCli(argv, io)).toBe(2);
      expect(io.err()).toMatch(message);
      expect(io.err()).toMatch(/^aim-shards[^\n]*: [^\n]*\(see --help\)\n$/);
      expect(io.out()).toBe('');
    }
    for (const argv of [['--help'], ['-h'], ['help'], ['inspect', '--help'], ['from-idx', 'a', '--bogus', '--help']]) {
      const io = captureIo();
      expect(await runCli(argv, io)).toBe(0);
      expect(io.out()).toMatch(/aim-shards from-folder <dir> --out <pattern>/);
      expect(io.err()).toBe('');
    }
  });

  it('bad input data exits 1 naming the file', async () => {
    await withTempDir(async (dir) => {
      const io = captureIo();
      expect(await runCli(['from-idx', join(dir, 'none'), join(dir, 'none2'), '--out', join(dir, 'o-%d.tar')], io)).toBe(1);
      // Both files are missing and are opened concurrently: either may be the one named.
      expect(io.err()).toMatch(/^aim-shards from-idx: error: cannot read IDX file .*none2?: no such file[^\n]*\n$/);
      const verbose = captureIo();
      expect(await runCli(['from-idx', join(dir, 'none'), join(dir, 'none2'), '--out', join(dir, 'o-%d.tar'), '--verbose'], verbose)).toBe(1);
      expect(verbose.err()).toContain('    at ');
      const bad = captureIo();
      expect(await runCli(['from-idx', join(dir, 'none'), join(dir, 'none2'), '--out', join(dir, 'no-directive.tar')], bad)).toBe(1);
      expect(bad.err()).toMatch(/must contain exactly one integer directive/);
    });
  });

  it('the executable runs from-idx with progress on stderr and exits 0, and exits 2 on misuse', async () => {
    await withTempDir(async (dir) => {
      const pair = await writeIdxPair(dir, 30, 4, 4, true);
      const cli = ['--conditions=@aim/source', '--import', 'tsx', join(projectDir, 'src/cli.ts')];
      const ok = spawnSync(process.execPath, [...cli, 'from-idx', pair.images, pair.labels, '--out', join(dir, 'm-%03d.tar'), '--maxcount', '10'], {
        encoding: 'utf8',
        cwd: projectDir,
      });
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/wrote 30 samples into 3 shard\(s\)/);
      expect(ok.stderr).toMatch(/from-idx: 1\/30/); // the first progress line is printed at once
      const misuse = spawnSync(process.execPath, [...cli, 'inspect'], { encoding: 'utf8', cwd: projectDir });
      expect(misuse.status).toBe(2);
      expect(misuse.stderr).toMatch(/inspect needs at least one shard spec/);
    });
  });
});
