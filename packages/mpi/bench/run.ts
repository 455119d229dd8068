// `npx nx run mpi:bench [-- --np 2 --rounds 2 --no-trainer]`: the binding's in-place all-reduce bandwidth for 1 MB..256 MB
// next to the same MPI_Allreduce called from C (bench/allreduce.c, compiled here with mpicc), alternating C and
// Node rounds in this run and keeping each size's best; then the trainer's images/s with 1 and N ranks on the same data.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const repo = join(root, '..', '..');
const { values } = parseArgs({
  options: {
    np: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    'no-trainer': { type: 'boolean', default: false },
    steps: { type: 'string', default: '12' },
  },
});
const np = values.np!;
const MPIRUN = ['--oversubscribe', '--allow-run-as-root', '--bind-to', 'none', '-np'];

mkdirSync(join(root, 'build'), { recursive: true });
const cBench = join(root, 'build', 'bench-allreduce');
execFileSync('mpicc', ['-O2', '-o', cBench, join(here, 'allreduce.c')], { stdio: 'inherit' });

const parse = (text: string): Map<number, number> =>
  new Map(
    text
      .trim()
      .split('\n')
      .filter((l) => /^\d+ /.test(l))
      .map((l) => l.split(' ').map(Number) as [number, number]),
  );
const run = (args: string[]): string => {
  const r = spawnSync('mpirun', [...MPIRUN, np, ...args], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`mpirun ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
};
const best = { c: new Map<number, number>(), node: new Map<number, number>() };
const keep = (into: Map<number, number>, from: Map<number, number>): void => from.forEach((s, b) => into.set(b, Math.min(s, into.get(b) ?? Infinity)));
for (let round = 0; round < Number(values.rounds); round++) {
  keep(best.c, parse(run([cBench])));
  keep(best.node, parse(run([process.execPath, '--conditions=@aim/source', '--import', 'tsx', join(here, 'allreduce-node.ts')])));
}
const lib = execFileSync('mpirun', ['--version'], { encoding: 'utf8' }).split('\n')[0];
console.log(`in-place MPI_Allreduce (sum, float32), ${np} ranks on this machine, ${lib}; best of ${values.rounds} alternating rounds`);
console.log('  buffer     C (GB/s)   @aim/mpi (GB/s)   binding / C');
for (const [bytes, c] of best.c) {
  const n = best.node.get(bytes)!;
  console.log(
    `${`${bytes / 2 ** 20} MB`.padStart(8)} ${(bytes / c / 1e9).toFixed(3).padStart(12)} ${(bytes / n / 1e9).toFixed(3).padStart(17)} ${(c / n).toFixed(2).padStart(13)}`,
  );
}

if (!values['no-trainer']) {
  // The trainer on the same data with 1 and N ranks: global batch 16 (--batch-size 8 --accum 2), cpu backend.
  const data = mkdtempSync(join(tmpdir(), 'aim-mpi-bench-'));
  const prep = spawnSync(
    process.execPath,
    [
      '--conditions=@aim/source',
      '--import',
      'tsx',
      '-e',
      `import('@aim/shards').then(async (m) => console.log(JSON.stringify(await m.prepareMnist(${JSON.stringify(join(data, 'mnist'))}, () => {}, { limit: 256 }))))`,
    ],
    { encoding: 'utf8', cwd: repo },
  );
  const shards = JSON.parse(prep.stdout.trim().split('\n').at(-1)!) as { train: string };
  const trainer = join(repo, 'apps', 'trainer', 'src', 'main.ts');
  const args = [
    '--preset',
    'smoke',
    '--variant',
    'aim-dev-tiny',
    '--backend',
    'cpu',
    '--data',
    shards.train,
    '--no-val',
    '--batch-size',
    '8',
    '--accum',
    '2',
    '--workers',
    '1',
    '--steps',
    values.steps!,
    '--save-every',
    '1000',
  ];
  for (const ranks of ['1', np]) {
    const r = spawnSync(
      'mpirun',
      [...MPIRUN, ranks, process.execPath, '--conditions=@aim/source', '--import', 'tsx', trainer, ...args, '--out', join(data, `run-${ranks}`)],
      { encoding: 'utf8', cwd: repo },
    );
    const rate = /throughput ([\d.]+) img\/s/.exec(r.stdout)?.[1];
    console.log(`trainer, aim-dev-tiny, cpu, global batch 16, ${values.steps} steps: ${ranks} rank(s) ${rate ?? `failed: ${r.stderr.slice(-400)}`} img/s`);
    const millions = /model: \S+, ([\d.]+)M parameters/.exec(r.stderr)?.[1];
    if (ranks !== '1' && rate && millions) {
      // What overlapping the exchange with compute could save at most: the all-reduce of one step's gradients.
      const bytes = Number(millions) * 1e6 * 4;
      const sizes = [...best.node.keys()].sort((a, b) => a - b);
      const near = sizes.reduce((p, q) => (Math.abs(Math.log(q / bytes)) < Math.abs(Math.log(p / bytes)) ? q : p));
      const exchange = bytes / (near / best.node.get(near)!);
      const step = 16 / Number(rate);
      console.log(
        `gradient exchange per step: ${(bytes / 2 ** 20).toFixed(1)} MB, ~${(exchange * 1000).toFixed(1)} ms at the ${near / 2 ** 20} MB bandwidth above, ` +
          `of a ${step.toFixed(2)} s step: overlapping it with compute could save at most ${((100 * exchange) / step).toFixed(2)}%`,
      );
    }
  }
}
