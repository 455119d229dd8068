// Interoperability with the tools users already have: archives made by GNU tar and Python's tarfile are read as
// Python webdataset would group them, and our shards are read by GNU tar and Python's tarfile.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandSucceeds, missingSystemDependency } from '../../../vitest.shared.js';
import { readSamples, sampleCls, sampleJson, sampleText, ShardWriter, type WritableSample } from '../src/index.js';
import { bytes, collect, comparable, withTempDir } from './helpers.js';

const LONG_DIR = `deep-${'d'.repeat(110)}`; // makes member paths longer than the 100-byte ustar name field

/** Files in archive order; several extensions per key, an upper-case extension, a multi-dot extension. */
function sourceFiles(): [string, Uint8Array][] {
  return [
    ['train/img001.jpg', new Uint8Array(700).map((_, i) => i & 255)],
    ['train/img001.cls', bytes('3\n')],
    ['train/img001.JSON', bytes('{"w": 7}')],
    ['train/img001.seg.png', new Uint8Array(513).fill(9)],
    ['train/img002.jpg', new Uint8Array(0)],
    ['train/img002.txt', bytes('a caption, ünïcode')],
    [`${LONG_DIR}/img003.txt`, bytes('long path')],
    [`${LONG_DIR}/img003.cls`, bytes('12')],
  ];
}

const EXPECTED = [
  { __key__: 'train/img001', jpg: sourceFiles()[0][1], cls: bytes('3\n'), json: bytes('{"w": 7}'), 'seg.png': sourceFiles()[3][1] },
  { __key__: 'train/img002', jpg: new Uint8Array(0), txt: bytes('a caption, ünïcode') },
  { __key__: `${LONG_DIR}/img003`, txt: bytes('long path'), cls: bytes('12') },
];

async function layOut(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const [name, data] of sourceFiles()) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), data);
    names.push(name);
  }
  // Entries that are not sample members: a README without extension, a symlink, an empty directory.
  await writeFile(join(dir, 'README'), 'not a sample');
  await symlink('img001.jpg', join(dir, 'train/link.jpg'));
  await mkdir(join(dir, 'empty-dir'));
  return ['README', 'empty-dir', ...names.slice(0, 6), 'train/link.jpg', ...names.slice(6)];
}

const noGnuTar = missingSystemDependency('GNU tar (interop tests)', 'tar', commandSucceeds('tar', ['--version']));
const noPython = missingSystemDependency('python3 (tarfile interop tests)', 'python3', commandSucceeds('python3', ['-c', 'import tarfile']));

describe('archives made by other tools', () => {
  for (const format of ['gnu', 'posix', 'ustar'] as const) {
    it.skipIf(noGnuTar)(`reads a GNU tar --format=${format} archive (long names, several extensions per key, links and dirs skipped)`, async () => {
      await withTempDir(async (dir) => {
        const src = join(dir, 'src');
        const names = await layOut(src);
        const tarPath = join(dir, 'made-by-gnu-tar.tar');
        const args = [`--format=${format}`, '-cf', tarPath, '-C', src, '--no-recursion', ...names];
        if (format === 'ustar') {
          // ustar cannot hold the 100+-byte single segment; GNU tar splits into prefix/name only at a '/'.
          const ok = names.filter((n) => !n.startsWith(LONG_DIR));
          execFileSync('tar', [`--format=ustar`, '-cf', tarPath, '-C', src, '--no-recursion', ...ok]);
        } else {
          execFileSync('tar', args);
        }
        const samples = await collect(readSamples(tarPath));
        const expected = format === 'ustar' ? EXPECTED.slice(0, 2) : EXPECTED;
        expect(samples.map(comparable)).toEqual(expected.map(comparable));
        expect(samples.every((s) => s.__url__ === tarPath)).toBe(true);
        expect(sampleCls(samples[0])).toBe(3);
        expect(sampleJson(samples[0])).toEqual({ w: 7 });
        expect(sampleText(samples[1])).toBe('a caption, ünïcode');
      });
    });
  }

  it.skipIf(noPython)('reads PAX and GNU archives written by Python tarfile (non-ASCII and 200-byte names)', async () => {
    await withTempDir(async (dir) => {
      const script = `
import io, sys, tarfile
def add(t, name, data):
    info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
for fmt, path in [(tarfile.PAX_FORMAT, sys.argv[1]), (tarfile.GNU_FORMAT, sys.argv[2])]:
    with tarfile.open(path, 'w', format=fmt) as t:
        add(t, 'données/ключ.txt', 'grüße'.encode())
        add(t, 'données/ключ.cls', b'5')
        add(t, 'x' * 150 + '/' + 'y' * 60 + '.bin', bytes(range(256)) * 3)
`;
      const pax = join(dir, 'pax.tar');
      const gnu = join(dir, 'gnu.tar');
      execFileSync('python3', ['-c', script, pax, gnu]);
      for (const path of [pax, gnu]) {
        const samples = await collect(readSamples(path));
        expect(samples.map(comparable)).toEqual(
          [
            { __key__: 'données/ключ', txt: bytes('grüße'), cls: bytes('5') },
            { __key__: `${'x'.repeat(150)}/${'y'.repeat(60)}`, bin: new Uint8Array(768).map((_, i) => i & 255) },
          ].map(comparable),
        );
      }
    });
  });
});

describe('our shards in other tools', () => {
  const samples: WritableSample[] = [
    { __key__: 'a/0001', jpg: new Uint8Array(1000).fill(1), cls: 4, json: { label: 'cat' } },
    { __key__: `${'p'.repeat(120)}/0002`, txt: 'a long path' }, // beyond the ustar name field
    { __key__: 'b/ünï/0003', 'seg.png': new Uint8Array(512).fill(2), txt: 'unicode path' }, // PAX path record
    { __key__: `${'q'.repeat(170)}0004`, bin: new Uint8Array(3) }, // no '/' to split at: PAX path record
  ];
  const members = (): [string, string][] =>
    samples.flatMap((s) =>
      Object.entries(s)
        .filter(([k]) => k !== '__key__')
        .map(([ext, v]): [string, string] => {
          const data = v instanceof Uint8Array ? v : typeof v === 'string' ? bytes(v) : typeof v === 'number' ? bytes(String(v)) : bytes(JSON.stringify(v));
          return [`${s.__key__}.${ext}`, createHash('sha256').update(data).digest('hex')];
        }),
    );

  async function writeShards(dir: string): Promise<string[]> {
    const writer = new ShardWriter({ pattern: join(dir, 'train-%06d.tar'), maxCount: 2 });
    for (const s of samples) await writer.write(s);
    return writer.close();
  }

  it.skipIf(noPython)('Python tarfile reads every member with its exact name and bytes', async () => {
    await withTempDir(async (dir) => {
      const shards = await writeShards(dir);
      expect(shards.map((s) => s.slice(dir.length + 1))).toEqual(['train-000000.tar', 'train-000001.tar']);
      const script = `
import hashlib, json, sys, tarfile
out = []
for path in sys.argv[1:]:
    with tarfile.open(path, 'r') as t:
        for m in t:
            assert m.isfile(), m.name
            out.append([m.name, hashlib.sha256(t.extractfile(m).read()).hexdigest()])
print(json.dumps(out))
`;
      const listed = JSON.parse(execFileSync('python3', ['-c', script, ...shards], { encoding: 'utf8' }));
      expect(listed).toEqual(members());
    });
  });

  it.skipIf(noGnuTar)('GNU tar lists and extracts them without warnings', async () => {
    await withTempDir(async (dir) => {
      const shards = await writeShards(dir);
      const out = join(dir, 'extracted');
      await mkdir(out);
      const names: string[] = [];
      for (const shard of shards) {
        names.push(...execFileSync('tar', ['-tf', shard], { encoding: 'utf8' }).split('\n').filter(Boolean));
        const extract = spawnSync('tar', ['-xf', shard, '-C', out], { encoding: 'utf8' });
        expect(extract.status).toBe(0);
        expect(extract.stderr).toBe('');
      }
      expect(names).toEqual(members().map(([name]) => name));
      for (const [name, hash] of members()) {
        expect(
          createHash('sha256')
            .update(await readFile(join(out, name)))
            .digest('hex'),
        ).toBe(hash);
      }
    });
  });
});
