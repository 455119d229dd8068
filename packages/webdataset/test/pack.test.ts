// The package as users get it: built with tsc, packed with `npm pack`, installed from the tarball into a scratch
// project outside the monorepo, imported from plain Node ESM and type-checked from a TypeScript consumer.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withTempDir } from './helpers.js';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// The one package this one depends on (its seeded generator), packed and installed beside it as a user would get it.
const baseDir = resolve(packageDir, '../base');
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc');
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

const consumerJs = `
import { expandUrls, readSamples, sampleText, sampleCls, ShardWriter, createRng } from '@aim/webdataset';
const dir = process.argv[2];
const writer = new ShardWriter({ pattern: dir + '/packed-%03d.tar', maxCount: 2 });
for (let i = 0; i < 5; i++) await writer.write({ __key__: 'k' + i, txt: 'sample ' + i, cls: i });
const shards = await writer.close();
const got = [];
for await (const s of readSamples(expandUrls(dir + '/packed-{000..002}.tar'))) got.push([s.__key__, sampleText(s), sampleCls(s)]);
console.log(JSON.stringify({ shards: shards.length, got, rng: createRng(42).uint32() }));
`;

const consumerTs = `
import { readSamples, ShardWriter, type Sample, type ReadSamplesOptions } from '@aim/webdataset';
export const seen: string[] = [];
const options: ReadSamplesOptions = { shuffle: { size: 10 }, errorPolicy: 'warn', onError: (e) => seen.push(e.url + e.reason) };
export async function first(spec: string): Promise<Sample | undefined> {
  for await (const s of readSamples(spec, options)) return s;
  return undefined;
}
export const w: ShardWriter = new ShardWriter({ pattern: 'x-%d.tar' });
// @ts-expect-error: a typo in an option must not type-check
readSamples('a.tar', { shufle: 3 });
`;

describe('npm pack', () => {
  it('packs dist with types, installs from the tarball offline, and works from plain Node ESM and TypeScript', async () => {
    run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], baseDir);
    run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], packageDir);
    await withTempDir(async (dir) => {
      const [base] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], baseDir)) as { filename: string }[];
      const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], packageDir)) as {
        filename: string;
        files: { path: string }[];
      }[];
      const files = packed.files.map((f) => f.path);
      expect(files).toContain('dist/index.js');
      expect(files).toContain('dist/index.d.ts');
      expect(files).toContain('package.json');
      // The TypeScript sources ship beside dist/ (its source maps point at them); tests do not.
      expect(files).toContain('src/index.ts');
      expect(files.filter((f) => f.startsWith('test/') || /\.test\.[jt]s$/.test(f))).toEqual([]);

      const project = join(dir, 'scratch');
      run('mkdir', ['-p', project], dir);
      await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
      run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, base.filename), join(dir, packed.filename)], project);

      await writeFile(join(project, 'consumer.mjs'), consumerJs);
      const out = JSON.parse(run(process.execPath, ['consumer.mjs', project], project));
      expect(out).toEqual({
        shards: 3,
        got: [0, 1, 2, 3, 4].map((i) => [`k${i}`, `sample ${i}`, i]),
        rng: 2476999517,
      });

      await writeFile(join(project, 'consumer.ts'), consumerTs);
      // Type-check against the packed declarations alone: no @types/node, no skipLibCheck.
      const compilerOptions = {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022'],
        types: [],
        noEmit: true,
        skipLibCheck: false,
      };
      await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    });
  }, 120_000);
});
