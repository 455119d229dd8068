// `npx nx run model:bench`: AIM pretraining step speed per backend and variant, against the backend's own matmul rate.
//
// Usage: node --conditions=@aim/source --import tsx bench/bench.ts [--backends wasm,webgpu] [--variants a,b]
//   [--batch 32] [--batch-for aim-600M=8,...] [--steps 3] [--mode step|forward] [--matmul-n 1024] [--profile]
//   [--budget-s 600] [--webgpu-software] [--json out.json]
// Prints one table row per (backend, variant): step seconds, images/s, tensor bytes (held after the step and peak
// inside it), the step's FLOP rate from the analytic count in flops.ts, the 2-D matmul rate, and their ratio.
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { type BackendName, BACKEND_CHOICES, selectBackend } from '../src/backend/index.js';
import { loadTensorflowBackend } from '../src/backend/tensorflow.js';
import { describeAdapter, probeWebGpu } from '../src/backend/webgpu.js';
import { AIM_VARIANTS, numPatches, patchDim, resolveAimConfig } from '../src/config.js';
import { createAim } from '../src/model.js';
import { samplePrefixLengths } from '../src/prefix-lengths.js';
import { forwardFlops, matmulParams, stepFlops } from '../src/flops.js';
import { type MatmulRate, measureMatmulRate } from './matmul.js';
import { topKernelShapes, topKernels, useCpuTimeForKernels } from './profile.js';
import { makeStep } from './step.js';
import { stopwatch } from './timing.js';

interface BenchOptions {
  backends: BackendName[] | 'available';
  variants: string[];
  batch: number;
  steps: number;
  mode: 'step' | 'forward';
  matmulN?: number;
  profile: boolean;
  budgetSeconds: number;
  webgpuSoftware: boolean;
  json?: string;
  /** Per-variant batch overrides, e.g. {'aim-600M': 4}. */
  batchFor: Record<string, number>;
}

interface BenchRow {
  backend: string;
  variant: string;
  mode: 'step' | 'forward';
  batch: number;
  matmulParams: number;
  stepSeconds?: number;
  /** This process's CPU seconds per step (the wasm and cpu backends compute on this thread). */
  stepCpuSeconds?: number;
  imagesPerSecond?: number;
  heldBytes?: number;
  peakBytes?: number;
  stepFlops: number;
  stepFlopsPerSecond?: number;
  matmulFlopsPerSecond: number;
  matmulN: number;
  ratio?: number;
  /** The same ratio on CPU time: robust on a loaded machine for backends that compute on this thread. */
  ratioCpu?: number;
  skipped?: string;
}

const DEFAULT_VARIANTS = ['aim-dev-tiny', 'aim-dev-5M'];
/** The cpu backend's JS kernels are ~30x slower than wasm: only tiny variants by default. */
const CPU_MAX_MATMUL_PARAMS = 1_000_000;

function parseArgs(argv: string[]): BenchOptions {
  const opts: BenchOptions = {
    backends: 'available',
    variants: DEFAULT_VARIANTS,
    batch: 32,
    steps: 3,
    mode: 'step',
    profile: false,
    budgetSeconds: Number.POSITIVE_INFINITY,
    webgpuSoftware: false,
    batchFor: {},
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`bench: ${flag} needs a value`);
    return v;
  };
  const positiveInt = (s: string, flag: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`bench: ${flag} must be a positive integer, got '${s}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--backends': {
        const names = value(i++, flag).split(',');
        for (const n of names) {
          if (n === 'auto' || !(BACKEND_CHOICES as readonly string[]).includes(n)) {
            throw new Error(`bench: unknown backend '${n}' in --backends; valid: ${BACKEND_CHOICES.filter((c) => c !== 'auto').join(', ')}`);
          }
        }
        opts.backends = names as BackendName[];
        break;
      }
      case '--variants': {
        const names = value(i++, flag).split(',');
        for (const n of names) {
          if (!(n in AIM_VARIANTS)) throw new Error(`bench: unknown variant '${n}'; valid: ${Object.keys(AIM_VARIANTS).join(', ')}`);
        }
        opts.variants = names;
        break;
      }
      case '--batch':
        opts.batch = positiveInt(value(i++, flag), flag);
        break;
      case '--batch-for': {
        // name=batch,name=batch
        for (const pair of value(i++, flag).split(',')) {
          const [name, b] = pair.split('=');
          if (!(name in AIM_VARIANTS)) throw new Error(`bench: unknown variant '${name}' in --batch-for`);
          opts.batchFor[name] = positiveInt(b ?? '', flag);
        }
        break;
      }
      case '--steps':
        opts.steps = positiveInt(value(i++, flag), flag);
        break;
      case '--mode': {
        const m = value(i++, flag);
        if (m !== 'step' && m !== 'forward') throw new Error(`bench: --mode must be step or forward, got '${m}'`);
        opts.mode = m;
        break;
      }
      case '--matmul-n':
        opts.matmulN = positiveInt(value(i++, flag), flag);
        break;
      case '--budget-s':
        opts.budgetSeconds = positiveInt(value(i++, flag), flag);
        break;
      case '--json':
        opts.json = value(i++, flag);
        break;
      case '--profile':
        opts.profile = true;
        break;
      case '--webgpu-software':
        opts.webgpuSoftware = true;
        break;
      default:
        throw new Error(`bench: unknown argument '${flag}'`);
    }
  }
  return opts;
}

/** Backends to run when none are named: every one that starts, except software WebGPU (unless asked for). */
async function availableBackends(webgpuSoftware: boolean): Promise<{ run: BackendName[]; notes: string[] }> {
  const run: BackendName[] = [];
  const notes: string[] = [];
  const tensorflow = await loadTensorflowBackend();
  if (tensorflow.loaded) run.push('tensorflow');
  else notes.push(`tensorflow: ${tensorflow.failures.map((f) => f.why).join('; ')}`);
  const gpu = await probeWebGpu({ softwareFallback: webgpuSoftware });
  if (gpu.adapter && (!gpu.adapter.software || webgpuSoftware)) run.push('webgpu');
  else notes.push(`webgpu: ${gpu.adapter ? `software adapter only (${describeAdapter(gpu.adapter)}); pass --webgpu-software` : gpu.why}`);
  run.push('wasm', 'cpu');
  return { run, notes };
}

function defaultMatmulN(backend: BackendName): number {
  if (backend === 'cpu') return 256;
  if (backend === 'webgpu' || backend === 'tensorflow') return 4096;
  return 1024;
}

/** Backends whose work runs on the calling thread, so CPU time measures it. */
const ON_THIS_THREAD: readonly BackendName[] = ['wasm', 'cpu'];

/** The fields of a row known before anything runs (also the whole of a skipped or failed row). */
function rowHead(backend: BackendName, variant: string, opts: BenchOptions, matmul: MatmulRate): BenchRow {
  const config = resolveAimConfig(variant);
  const batch = opts.batchFor[variant] ?? opts.batch;
  return {
    backend,
    variant,
    mode: opts.mode,
    batch,
    matmulParams: matmulParams(config),
    stepFlops: opts.mode === 'step' ? stepFlops(config, batch).total : forwardFlops(config, batch),
    matmulFlopsPerSecond: matmul.flopsPerSecond,
    matmulN: matmul.n,
  };
}

async function benchVariant(backend: BackendName, variant: string, opts: BenchOptions, matmul: MatmulRate): Promise<BenchRow> {
  const row = rowHead(backend, variant, opts, matmul);
  const config = resolveAimConfig(variant);
  const { batch, stepFlops: flops } = row;
  if (backend === 'cpu' && opts.backends === 'available' && row.matmulParams > CPU_MAX_MATMUL_PARAMS) {
    return { ...row, skipped: `cpu runs variants under ${CPU_MAX_MATMUL_PARAMS / 1e6}M matmul params unless --backends cpu` };
  }
  const k = numPatches(config);
  const model = createAim(config, {}, { seed: 0, pretrainHead: true });
  const patches = tf.randomNormal([batch, k, patchDim(config)], 0, 1, 'float32', 3) as tf.Tensor3D;
  const prefix = samplePrefixLengths(batch, k, 7);
  const step =
    opts.mode === 'step' ? makeStep(model, patches, prefix) : { run: () => tf.tidy(() => model.pretrainLoss(patches, prefix)), dispose: () => undefined };
  try {
    // Warm-up step under tf.profile: compiles shaders / packs weights, and gives the peak bytes inside one step.
    const info = await tf.profile(async () => {
      const loss = step.run();
      await loss.data();
      loss.dispose();
    });
    row.peakBytes = info.peakBytes;
    if (opts.profile) {
      const clock = ON_THIS_THREAD.includes(backend) ? 'CPU time' : 'wall time';
      console.log(`\n${backend} ${variant} batch ${batch}: kernels by ${clock} (warm-up step)\n${await topKernels(info, 15)}`);
      console.log(`by kernel and input shapes:\n${await topKernelShapes(info, 20)}\n`);
    }
    const elapsed = stopwatch();
    let losses = '';
    for (let i = 0; i < opts.steps; i++) {
      const loss = step.run();
      losses += `${(await loss.data())[0].toFixed(4)} `;
      loss.dispose();
    }
    const { wall, cpu } = elapsed();
    row.stepSeconds = wall / opts.steps;
    row.heldBytes = tf.memory().numBytes;
    row.imagesPerSecond = batch / row.stepSeconds;
    row.stepFlopsPerSecond = flops / row.stepSeconds;
    row.ratio = row.stepFlopsPerSecond / matmul.flopsPerSecond;
    if (ON_THIS_THREAD.includes(backend)) {
      row.stepCpuSeconds = cpu / opts.steps;
      row.ratioCpu = flops / row.stepCpuSeconds / matmul.flopsPerCpuSecond;
    }
    if (!/^(\d|\.|-| )+$/.test(losses) || losses.includes('NaN')) row.skipped = `non-finite loss: ${losses}`;
  } finally {
    step.dispose();
    tf.dispose(patches);
    model.dispose();
  }
  return row;
}

/** GFLOP with three significant digits (SwiftShader rows are tiny, H100 rows large). */
const g = (x: number | undefined): string => (x === undefined ? '-' : Number((x / 1e9).toPrecision(3)).toString());
const mb = (x: number | undefined): string => (x === undefined ? '-' : (x / 2 ** 20).toFixed(0));

/** Recomputes a row's ratios against a (better) matmul measurement. */
function rescale(row: BenchRow, mm: MatmulRate): void {
  row.matmulFlopsPerSecond = mm.flopsPerSecond;
  if (row.stepSeconds !== undefined) row.ratio = row.stepFlops / row.stepSeconds / mm.flopsPerSecond;
  if (row.stepCpuSeconds !== undefined) row.ratioCpu = row.stepFlops / row.stepCpuSeconds / mm.flopsPerCpuSecond;
}

function formatTable(rows: BenchRow[]): string {
  const head = [
    'backend',
    'variant',
    'mode',
    'batch',
    'matmul params',
    'step s (cpu s)',
    'img/s',
    'held MiB',
    'peak MiB',
    'GFLOP/step',
    'step GFLOP/s',
    'matmul GFLOP/s (n)',
    'ratio',
    'ratio (cpu time)',
  ];
  const body = rows.map((r) =>
    r.skipped && r.stepSeconds === undefined
      ? [r.backend, r.variant, r.mode, String(r.batch), `${(r.matmulParams / 1e6).toFixed(2)}M`, `skipped: ${r.skipped}`]
      : [
          r.backend,
          r.variant,
          r.mode,
          String(r.batch),
          `${(r.matmulParams / 1e6).toFixed(2)}M`,
          r.stepSeconds!.toFixed(3) + (r.stepCpuSeconds === undefined ? '' : ` (${r.stepCpuSeconds.toFixed(3)})`),
          r.imagesPerSecond!.toFixed(1),
          mb(r.heldBytes),
          mb(r.peakBytes),
          g(r.stepFlops),
          g(r.stepFlopsPerSecond),
          `${g(r.matmulFlopsPerSecond)} (${r.matmulN})`,
          r.ratio!.toFixed(2) + (r.skipped ? ` ${r.skipped}` : ''),
          r.ratioCpu === undefined ? '-' : r.ratioCpu.toFixed(2),
        ],
  );
  const lines = [head, ...body].map((cells) => `| ${cells.join(' | ')} |`);
  lines.splice(1, 0, `|${head.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

async function runBench(opts: BenchOptions): Promise<BenchRow[]> {
  const started = performance.now();
  const overBudget = () => (performance.now() - started) / 1000 > opts.budgetSeconds;
  let backends: BackendName[];
  if (opts.backends === 'available') {
    const found = await availableBackends(opts.webgpuSoftware);
    backends = found.run;
    for (const note of found.notes) console.log(`not benchmarked: ${note}`);
  } else {
    backends = opts.backends;
  }
  const rows: BenchRow[] = [];
  for (const backend of backends) {
    const selection = await selectBackend(backend, { softwareWebGpuFallback: opts.webgpuSoftware });
    if (opts.profile && ON_THIS_THREAD.includes(backend)) useCpuTimeForKernels();
    console.log(`# ${selection.reason}`);
    if (selection.adapter?.software && !opts.webgpuSoftware) {
      throw new Error('bench: webgpu runs on a software adapter here (far slower than wasm); pass --webgpu-software to bench it anyway');
    }
    const n = opts.matmulN ?? defaultMatmulN(backend);
    const mmSeconds = backend === 'cpu' ? 1 : 2;
    const mm: MatmulRate = await measureMatmulRate(n, mmSeconds);
    const cpuRate = ON_THIS_THREAD.includes(backend) ? ` (${(mm.flopsPerCpuSecond / 1e9).toFixed(1)} per CPU second)` : '';
    console.log(`# ${backend}: ${n}^3 matmul ${(mm.flopsPerSecond / 1e9).toFixed(1)} GFLOP/s${cpuRate}`);
    for (const variant of opts.variants) {
      if (overBudget()) {
        rows.push({ ...rowHead(backend, variant, opts, mm), skipped: `time budget of ${opts.budgetSeconds} s spent` });
        continue;
      }
      try {
        const row = await benchVariant(backend, variant, opts, mm);
        // The matmul rate again after each variant; the best of all runs is the yardstick (a loaded machine only
        // ever makes a run slower), and this backend's rows are rescaled to it.
        const again = await measureMatmulRate(n, mmSeconds);
        if (again.flopsPerSecond > mm.flopsPerSecond || again.flopsPerCpuSecond > mm.flopsPerCpuSecond) {
          mm.flopsPerSecond = Math.max(mm.flopsPerSecond, again.flopsPerSecond);
          mm.flopsPerCpuSecond = Math.max(mm.flopsPerCpuSecond, again.flopsPerCpuSecond);
          for (const r of [...rows, row]) if (r.backend === backend) rescale(r, mm);
        }
        rows.push(row);
        console.log(formatTable([row]).split('\n')[2]);
        // Written after every row, so a run stopped by an outside time limit keeps what it measured.
        if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 2));
      } catch (err) {
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        rows.push({ ...rowHead(backend, variant, opts, mm), skipped: `failed: ${why}` });
        console.log(`${backend} ${variant}: ${rows[rows.length - 1].skipped}`);
      }
    }
  }
  console.log(
    `\nstep FLOPs = 6 x matmul params x B x K + 12 x B x K^2 x D x depth (forward: 2 x params x B x K + 4 x B x K^2 x D x depth); ` +
      `ratio = step FLOP rate / plain 2-D n^3 matmul FLOP rate on the same backend; ratio (cpu time) divides CPU-time ` +
      `rates instead (wasm/cpu compute on this thread, so it holds on a loaded machine)\n`,
  );
  console.log(formatTable(rows));
  if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 2));
  return rows;
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!);
if (isMain) {
  runBench(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
