// The engine benchmark: per variant and micro-batch, what a step asks of the GPU (dispatches, command buffers, host
// reads, planned and allocated bytes) and, on a hardware adapter, step time, images/s, model TFLOP/s and its share of
// the GPU's fp32 peak; GEMM rates for 4096^3 and the step's own shapes (optionally a tile sweep); and, when PyTorch
// with CUDA is importable, the same step in PyTorch fp32 (TF32 off) in the same run, with our/PyTorch ratios.
//
// npx nx run gpu:bench                                     # SwiftShader here: counts and plans for the dev variants
// npx nx run gpu:bench -- --variants aim-dev-25M,vit-b,aim-600M --batch-for aim-600M=max --sweep   # a GPU machine
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type AimConfig,
  type WebGpuAdapterSummary,
  aimParameterSpecs,
  describeAdapter,
  forwardFlops,
  numPatches,
  patchDim,
  probeWebGpu,
  readGpuMemory,
  resolveAimConfig,
  stepFlops,
  vettedWebGpuAdapter,
} from '@aim/model';
import {
  ACTIVATION_MODES,
  type ActivationMode,
  AimEngine,
  GEMM_TILES,
  type GemmTile,
  DISABLE_ROBUSTNESS,
  SUBGROUP_MATRIX_DAWN_TOGGLES,
  boundsCheck,
  dawnToggleFlags,
  f16MatrixShapes,
  TILE_CANDIDATES,
  checkedTiles,
  describeEngine,
  gemmRate,
  gemmRates,
  gemmTilesFile,
  planMemory,
  requestEngineDevice,
  tileName,
  tileUnfit,
  tuneGemmTiles,
} from '../src/index.js';
import { gemmTileKey } from '../src/kernels/gemm.js';
import { matrixTileCandidates } from '../src/tile-candidates.js';
import { profileTables, summariseProfile } from './profile.js';
import { F16_PRODUCT_TOLERANCE, describeMatrixSupport, matrixTileError } from './matrix.js';
import { tensorErrors, trainingDrift } from './training-drift.js';

const { values: flags } = parseArgs({
  options: {
    variants: { type: 'string', default: 'aim-dev-nano,aim-dev-tiny,aim-dev-5M' },
    batch: { type: 'string', default: '32' },
    'batch-for': { type: 'string', default: '' },
    steps: { type: 'string', default: '5' },
    sweep: { type: 'boolean', default: false },
    'gemm-n': { type: 'string', default: '4096' },
    'peak-tflops': { type: 'string', default: '67' },
    activations: { type: 'string', default: 'recompute' },
    'shapes-for': { type: 'string', default: '' },
    'features-for': { type: 'string', default: '' },
    software: { type: 'boolean', default: false },
    'bounds-checks': { type: 'string', default: 'off' },
    matrix: { type: 'boolean', default: false },
    torch: { type: 'string', default: 'auto' },
    json: { type: 'string' },
    'tiles-out': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(`gpu bench flags: --variants a,b (registry names or vit-b) --batch N --batch-for name=N|max,... --steps N
  --sweep (GEMM tile sweep) --shapes-for name=batch (GEMM rates of that step's shapes; default: the last variant)
  --features-for name=batch,... (trunk forward for features, bidirectional, all blocks) --gemm-n N --peak-tflops T (fp32 peak of the GPU, default 67: H200/H100 SXM)
  --activations mode[,mode...] (recompute|selective|keep: what the backward keeps; default recompute, as the trainer;
    further modes: one more row each of the --shapes-for variant at its first row's batch) --software (time on SwiftShader too) --torch auto|off --json file
  --tiles-out file (with --sweep: each swept shape's best tile, the file the trainer's --gpu-tiles reads)
  --bounds-checks off|on|both (Dawn's clamp of every storage index; off, as the trainer runs: its toggle
    disable_robustness; both: everything without them, then the GEMM rate and the first variant's step without and with)
  --matrix (only the f16 subgroup-matrix GEMM path: what the adapter offers, each tile's error and rate at --gemm-n,
    the --shapes-for shapes, then that variant's step with the best f16 tiles against the f32 one)`);
  process.exit(0);
}

/** A ViT-B-shaped AIM: width 768, 12 blocks, 12 heads, 224 px, patch 14, the paper's pretraining head. */
const VIT_B = resolveAimConfig({
  name: 'vit-b',
  imageSize: 224,
  patchSize: 14,
  width: 768,
  depth: 12,
  heads: 12,
  headWidth: 2048,
  headDepth: 12,
  headMlpDim: 8192,
  probeBlocks: { last: [6, 7, 8, 9, 10, 11], best: [6, 7, 8, 9, 10, 11] },
});
const configOf = (name: string): AimConfig => (name === 'vit-b' ? VIT_B : resolveAimConfig(name));
// The first mode runs every step row; each further one adds a row of the --shapes-for variant at the batch its first
// row ran (the same step with another trade of memory for recomputation, side by side).
const activationModes = flags.activations.split(',') as ActivationMode[];
const [activations, ...comparedModes] = activationModes;
for (const mode of activationModes) {
  if (!ACTIVATION_MODES.includes(mode)) {
    console.error(`--activations ${flags.activations}: '${mode}' is not one of ${ACTIVATION_MODES.join(', ')}`);
    process.exit(2);
  }
}

/**
 * The time plan of a sweep (see bench/device/run.sh): every candidate at n^3 for SQUARE_SECONDS each, then the step's
 * GEMMs tuned as --gpu-tiles auto tunes them (tuneGemmTiles), each GEMM's operands uploaded once for all its
 * candidates. SHAPE_SECONDS: each rate of the --matrix run's step GEMMs.
 */
const SQUARE_SECONDS = 0.3;
const SHAPE_SECONDS = 0.1;
/** The most time one variant's timed steps take (`timeSteps`). */
const STEP_SECONDS = 10;

const rows: Record<string, unknown>[] = [];
const head: Record<string, unknown> = {};
/** Rewrites --json with what is measured so far (after each table, so a run cut by its time limit keeps its rows). */
function saveJson(): void {
  if (flags.json) writeFileSync(flags.json, JSON.stringify({ ...head, rows }, null, 2));
}
const fmt = (x: number, d = 2): string => (!Number.isFinite(x) ? '-' : Math.abs(x) >= 1 || x === 0 ? x.toFixed(d) : x.toPrecision(d));

function initialValues(config: AimConfig): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  let s = 12345;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
  for (const spec of aimParameterSpecs(config, { pretrainHead: true })) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (spec.shape.length === 2) {
      const bound = Math.sqrt(6 / (spec.shape[0] + spec.shape[1]));
      for (let i = 0; i < n; i++) v[i] = rand() * bound;
    } else if (/norm[^.]*\.weight$/.test(spec.name)) v.fill(1);
    out.set(spec.name, v);
  }
  return out;
}

interface TorchStep {
  readonly imagesPerSecond?: number;
  readonly gemm?: number;
  /** Eager ran out of GPU memory at the batch, so the step was measured with every block checkpointed. */
  readonly checkpointed?: boolean;
  readonly peakGiB?: number;
  readonly eagerOutOfMemoryAtGiB?: number;
  readonly why?: string;
}

/**
 * GiB of GPU memory in use or free on the first GPU nvidia-smi lists; undefined without it. The difference in use
 * across an engine's creation and first step is what the engine really took from the GPU, Dawn's own allocations
 * included, to set beside the plan; what is free bounds the batches `--batch-for max` tries.
 */
function gpuMemoryGiB(what: 'usedBytes' | 'freeBytes'): number | undefined {
  const reading = readGpuMemory();
  return 'gpus' in reading ? reading.gpus[0][what] / 2 ** 30 : undefined;
}

/** How the PyTorch step ran, for its table: eager, or checkpointed because eager did not fit (and at what). */
const torchMode = (t: TorchStep): string =>
  t.checkpointed ? `blocks checkpointed (eager out of memory at ${fmt(t.eagerOutOfMemoryAtGiB ?? NaN, 1)} GiB)` : 'eager';

function torchStep(config: AimConfig, batch: number, steps: number): TorchStep {
  if (flags.torch === 'off') return { why: 'off' };
  const probe = spawnSync('python3', ['-c', 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 3)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { why: probe.status === 3 ? 'torch without CUDA' : 'no torch' };
  const script = fileURLToPath(new URL('./torch_step.py', import.meta.url));
  const arg = JSON.stringify({ ...config, batch, steps, gemmN: Number(flags['gemm-n']) });
  const run = spawnSync('python3', [script, arg], { encoding: 'utf8', timeout: 180_000 });
  const lines = (run.stdout ?? '')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, number | string | boolean | null>);
  const step = lines.find((l) => l.kind === 'step');
  const gemm = lines.find((l) => l.kind === 'gemm');
  if (!step) return { why: `torch failed: ${(run.stderr ?? '').trim().split('\n').at(-1)}` };
  return {
    imagesPerSecond: Number(step.imagesPerSecond),
    gemm: gemm ? Number(gemm.tflops) : undefined,
    checkpointed: step.checkpointed === true,
    peakGiB: typeof step.peakGiB === 'number' ? step.peakGiB : undefined,
    eagerOutOfMemoryAtGiB: typeof step.eagerOutOfMemoryAtGiB === 'number' ? step.eagerOutOfMemoryAtGiB : undefined,
  };
}

/** --shapes-for as [variant, batch] (default: the last variant at --batch). */
const shapesFor = (): string[] => (flags['shapes-for'] || `${flags.variants.split(',').at(-1)}=${flags.batch}`).split('=');
const shapesVariant = (): string => shapesFor()[0];

/**
 * The --shapes-for step's own GEMMs (its engine program's, by tile key): with --sweep tuned as --gpu-tiles auto tunes
 * them (tuneGemmTiles over every candidate; the first three on a software adapter), else rated with `chosen`. Prints
 * each GEMM's best tile against `chosen` and returns them (key -> tile).
 */
async function stepShapes(device: GPUDevice, chosen: GemmTile, peak: number, software: boolean): Promise<Map<string, GemmTile>> {
  const [name, b] = shapesFor();
  const batch = b === 'max' || b === undefined ? Number(flags.batch) : Number(b);
  const candidates = !flags.sweep ? [chosen] : software ? TILE_CANDIDATES.slice(0, 3) : TILE_CANDIDATES;
  const program = describeEngine(configOf(name), { batch, maxBindingBytes: device.limits.maxStorageBufferBindingSize });
  const shapes = [...program.gemmShapes.values()];
  const t0 = performance.now();
  const tuning = await tuneGemmTiles(device, shapes, { candidates, largeTile: chosen, smallChecks: software });
  console.log(`\n${shapes.length} GEMMs of the ${name} batch ${batch} step tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`\n| ${name} batch ${batch} GEMM | M x N x K | best tile | TFLOP/s | of peak | with the step's tile |\n|---|---|---|---|---|---|`);
  for (const shape of shapes) {
    const key = gemmTileKey(shape);
    const mine = tuning.rates.filter((r) => r.key === key);
    for (const r of mine)
      rows.push({ kind: 'gemm-shape', variant: name, batch, shape: key, m: shape.m, n: shape.n, k: shape.k, tile: tileName(r.tile), tflops: r.tflops });
    const best = tuning.tiles.get(key);
    rows.push({ kind: 'gemm-shape-best', variant: name, batch, shape: key, tile: best });
    const bestRate = mine.find((r) => r.tile === best)?.tflops ?? NaN;
    const chosenRate = mine.find((r) => r.tile === chosen)?.tflops ?? NaN;
    console.log(
      `| ${key} | ${shape.m} x ${shape.n} x ${shape.k} | ${best ? tileName(best) : 'none ran'} | ${fmt(bestRate)} | ${fmt(bestRate / peak, 3)} | ${fmt(chosenRate)} |`,
    );
  }
  return tuning.tiles;
}

/** Feature extraction (trunk forward, every block, bidirectional) for the variants in --features-for. */
async function featureRows(device: GPUDevice, tile: GemmTile, peak: number): Promise<void> {
  console.log('\n| features | batch | planned GiB | forward ms | img/s | model TFLOP/s | of peak |\n|---|---|---|---|---|---|---|');
  for (const item of flags['features-for'].split(',')) {
    const [name, b] = item.split('=');
    const config = configOf(name);
    const batch = Number(b);
    const options = { batch, pretrainHead: false, gemmTile: tile, maxBindingBytes: device.limits.maxStorageBufferBindingSize };
    const plan = planMemory(config, batch, options);
    const engine = await AimEngine.create(device, config, options);
    try {
      engine.setParameters(initialValues(config));
      const patches = new Float32Array(batch * numPatches(config) * patchDim(config)).map((_, i) => Math.sin(i * 0.37));
      const last = [config.depth - 1];
      await engine.extractFeatures(patches, { blocks: last });
      const t0 = performance.now();
      const reps = 3;
      for (let i = 0; i < reps; i++) await engine.extractFeatures(patches, { blocks: last });
      const ms = (performance.now() - t0) / reps;
      const tflops = forwardFlops({ ...config, headDepth: 0, headWidth: 0, headMlpDim: 0 }, batch) / (ms / 1000) / 1e12;
      rows.push({ kind: 'features', variant: name, batch, plannedBytes: plan.totalBytes, ms, tflops });
      saveJson();
      console.log(
        `| ${name} | ${batch} | ${fmt(plan.totalBytes / 2 ** 30, 3)} | ${fmt(ms, 1)} | ${fmt((batch * 1000) / ms, 1)} | ${fmt(tflops)} | ${fmt(tflops / peak, 3)} |`,
      );
    } finally {
      await engine.destroy();
    }
  }
}

interface Opened {
  /**
   * The Dawn instance (probeWebGpu leaves it only on navigator.gpu, which the next probe replaces): held so that it
   * outlives its device, else it is collected under the device and Dawn aborts.
   */
  readonly instance: GPU;
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly summary: WebGpuAdapterSummary;
  /** What an out-of-bounds read returned on this device (`boundsCheck`): 'clamped' while Dawn's bounds checks are on. */
  readonly check: string;
}

/**
 * The engine's device from a fresh Dawn instance, with Dawn's bounds checks or without them (`disable_robustness`);
 * with `matrix`, the instance is asked for f16 subgroup matrices and the device gets them when the adapter offers them.
 */
async function openDevice(checked: boolean, matrix = false): Promise<Opened> {
  const toggles = [...(checked ? [] : [DISABLE_ROBUSTNESS]), ...(matrix ? SUBGROUP_MATRIX_DAWN_TOGGLES : [])];
  // Kernel timings (the step profile) need timestamps Dawn does not round to 100 us.
  const dawnFlags = dawnToggleFlags(toggles, ['timestamp_quantization']);
  const probe = await probeWebGpu({ softwareFallback: true, dawnFlags });
  const adapter = vettedWebGpuAdapter();
  if (!probe.adapter || !adapter) throw new Error(`gpu bench: no WebGPU adapter: ${probe.why}`);
  const instance = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const device = await requestEngineDevice(adapter, {
    subgroupMatrix: matrix && f16MatrixShapes(adapter).length > 0,
    timestamps: adapter.features.has('timestamp-query'),
  });
  return { instance, device, adapter, summary: probe.adapter, check: await boundsCheck(device) };
}

const batchFor = new Map(
  flags['batch-for']
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string]),
);
const HYPER = { lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 1 };

function stepInput(config: AimConfig, batch: number): { patches: Float32Array; prefixLengths: Int32Array } {
  const k = numPatches(config);
  const patches = new Float32Array(batch * k * patchDim(config)).map((_, i) => Math.sin(i * 0.37));
  const prefixLengths = Int32Array.from({ length: batch }, (_, i) => 1 + ((i * 7) % (k - 1)));
  return { patches, prefixLengths };
}

/**
 * Milliseconds per step of a warmed-up engine: one step alone, then up to --steps more, pipelined, as many as fit in
 * STEP_SECONDS; a step longer than half of that is its own measurement (aim-600M's steps must fit the device
 * script's time plan). Also the host's part: the milliseconds step() takes to upload the patches and encode and submit
 * the step, which the GPU would wait for between steps if each step were awaited before the next (the trainer queues
 * the next one behind it).
 */
async function timeSteps(engine: AimEngine, input: ReturnType<typeof stepInput>): Promise<{ stepMs: number; submitMs: number }> {
  const t = performance.now();
  const single = engine.step([input], HYPER);
  const oneSubmitMs = performance.now() - t;
  await single;
  const oneMs = performance.now() - t;
  const steps = Math.min(Number(flags.steps), Math.floor((STEP_SECONDS * 1000) / oneMs));
  if (steps < 2) return { stepMs: oneMs, submitMs: oneSubmitMs };
  const t0 = performance.now();
  let submitMs = 0;
  let last: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    last = engine.step([input], HYPER);
    submitMs += performance.now() - s;
  }
  await last;
  return { stepMs: (performance.now() - t0) / steps, submitMs: submitMs / steps };
}

/**
 * --bounds-checks both: the GEMM rate (n^3, the chosen tile) and the first variant's step on the device without
 * Dawn's bounds checks and on a second one with them, one after the other in the same process.
 */
async function boundsCheckRows(off: Opened, tile: GemmTile, peak: number): Promise<void> {
  const on = await openDevice(true);
  const name = flags.variants.split(',')[0];
  const config = configOf(name);
  const want = batchFor.get(name) ?? flags.batch;
  const batch = want === 'max' ? Number(flags.batch) : Number(want);
  const n = Number(flags['gemm-n']);
  const step = `${name} batch ${batch} step`;
  console.log(`\n| bounds checks | out-of-bounds read | GEMM ${n}^3 TFLOP/s (${tileName(tile)}) | of peak | ${step} ms | img/s |\n|---|---|---|---|---|---|`);
  try {
    for (const [label, opened] of [
      ['off', off],
      ['on', on],
    ] as const) {
      const rate = await gemmRate(opened.device, { label: 'square', m: n, n, k: n }, tile).catch(() => NaN);
      const engine = await AimEngine.create(opened.device, config, { batch, activations, gemmTile: tile });
      let stepMs = NaN;
      try {
        engine.setParameters(initialValues(config));
        const input = stepInput(config, batch);
        await engine.step([input], HYPER); // compiles every pipeline
        ({ stepMs } = await timeSteps(engine, input));
      } finally {
        await engine.destroy();
      }
      const row = { kind: 'bounds-checks', boundsChecks: label, boundsCheck: opened.check, tile: tileName(tile), n, tflops: rate };
      rows.push({ ...row, variant: name, batch, stepMs });
      const imagesPerSecond = (batch * 1000) / stepMs;
      console.log(`| ${label} | ${opened.check} | ${fmt(rate)} | ${fmt(rate / peak, 3)} | ${fmt(stepMs, 1)} | ${fmt(imagesPerSecond, 1)} |`);
    }
  } finally {
    on.device.destroy();
  }
}

/**
 * --matrix: the f16 subgroup-matrix GEMM path. Every candidate tile's error against the exact product (a tile that
 * fails it is not timed further) and its rate at n^3 beside the f32 tile's; the best passing tiles on the step's
 * shapes; then the --shapes-for variant's step with f32 tiles and with the f16 tile of every shape where one won.
 */
async function matrixMain(): Promise<void> {
  const opened = await openDevice(flags['bounds-checks'] === 'on', true);
  const { device, adapter } = opened;
  const peak = Number(flags['peak-tflops']);
  const n = Number(flags['gemm-n']);
  console.log(`adapter: ${describeAdapter(opened.summary)}`);
  const support = describeMatrixSupport(adapter);
  support.forEach((l) => console.log(l));
  const shapes = f16MatrixShapes(adapter);
  Object.assign(head, { adapter: opened.summary, matrixShapes: shapes, matrixSupport: support });
  saveJson();
  if (shapes.length === 0) {
    console.log('no f16 x f16 -> f32 subgroup-matrix shape with one subgroup size: nothing to run');
    return;
  }
  const square = { label: 'square', m: n, n, k: n };
  const f32Rate = await gemmRate(device, square, GEMM_TILES.large).catch(() => NaN);
  console.log(`\n| GEMM ${n}^3 tile | error / sum |a||b| (<= ${F16_PRODUCT_TOLERANCE}) | TFLOP/s | of fp32 peak | / f32 tile |\n|---|---|---|---|---|`);
  console.log(`| ${tileName(GEMM_TILES.large)} (f32) | - | ${fmt(f32Rate)} | ${fmt(f32Rate / peak, 3)} | 1 |`);
  const passed: [GemmTile, number][] = [];
  for (const t of shapes.flatMap(matrixTileCandidates)) {
    let why = tileUnfit(device, t);
    if (why) {
      console.log(`| ${tileName(t)} | skipped: ${why} | | | |`);
      continue;
    }
    const err = await matrixTileError(device, t).catch((e: Error) => ((why = e.message), NaN));
    const ok = err <= F16_PRODUCT_TOLERANCE;
    const rate = ok ? await gemmRate(device, square, t, SQUARE_SECONDS).catch((e: Error) => ((why = e.message), NaN)) : NaN;
    rows.push({ kind: 'matrix-gemm', n, tile: tileName(t), error: err, tflops: rate, ...(why ? { why } : {}) });
    saveJson();
    const verdict = why ? `error: ${why}` : `${err.toExponential(2)}${ok ? '' : ' FAIL'}`;
    console.log(`| ${tileName(t)} | ${verdict} | ${fmt(rate)} | ${fmt(rate / peak, 3)} | ${fmt(rate / f32Rate)} |`);
    if (Number.isFinite(rate)) passed.push([t, rate]);
  }
  if (passed.length === 0) return;
  const best = passed.sort((x, y) => y[1] - x[1]).map(([t]) => t);

  // The step's shapes: the three fastest f16 tiles against the f32 tile the step would use.
  const [name, b] = shapesFor();
  const batch = Number(b ?? flags.batch);
  const config = configOf(name);
  const tuned = new Map<string, GemmTile>();
  console.log(`\n| ${name} batch ${batch} GEMM | M x N x K | best f16 tile | TFLOP/s | f32 tile TFLOP/s | f16 / f32 |\n|---|---|---|---|---|---|`);
  const program = describeEngine(config, { batch, maxBindingBytes: device.limits.maxStorageBufferBindingSize });
  for (const shape of program.gemmShapes.values()) {
    const f16 = best.slice(0, 3);
    const [f32, ...rates] = await gemmRates(device, shape, [GEMM_TILES.large, ...f16], SHAPE_SECONDS).catch(() => [NaN]);
    let top = { rate: -1, tile: best[0] };
    f16.forEach((t, i) => {
      if (rates[i] > top.rate) top = { rate: rates[i], tile: t };
    });
    if (top.rate > f32) tuned.set(shape.label, top.tile);
    rows.push({ kind: 'matrix-gemm-shape', variant: name, batch, shape: shape.label, tile: tileName(top.tile), tflops: top.rate, f32Tflops: f32 });
    console.log(`| ${shape.label} | ${shape.m} x ${shape.n} x ${shape.k} | ${tileName(top.tile)} | ${fmt(top.rate)} | ${fmt(f32)} | ${fmt(top.rate / f32)} |`);
  }
  saveJson();

  // The step with f32 tiles, then with the f16 tiles that won their shape, without and with loss scaling: time,
  // images/s, the first step's loss and how far its gradients are from the f32 step's (the output gradient is a mean
  // over every position, small enough that f16 operands lose much of it unless the loss is scaled).
  console.log(
    `\n| ${name} step | batch | f16 tiles | gradScale | step ms | img/s | model TFLOP/s | first loss | gradients vs f32: worst tensor, median tensor |\n|---|---|---|---|---|---|---|---|---|`,
  );
  let f32Gradients: Map<string, Float32Array> | undefined;
  for (const [gemmTiles, gradScale] of [
    [undefined, 1],
    [tuned, 1],
    [tuned, F16_GRAD_SCALE],
  ] as const) {
    const engine = await AimEngine.create(device, config, { batch, activations, gemmTiles });
    try {
      engine.setParameters(initialValues(config));
      const input = stepInput(config, batch);
      const first = await engine.step([input], { ...HYPER, gradScale });
      const gradients = await engine.readGradients();
      for (const g of gradients.values()) g.forEach((x, i) => (g[i] = x / gradScale));
      const errors = f32Gradients ? tensorErrors(gradients, f32Gradients) : undefined;
      f32Gradients ??= gradients;
      const { stepMs } = await timeSteps(engine, input);
      const tflops = stepFlops(config, batch).total / (stepMs / 1000) / 1e12;
      const f16Tiles = gemmTiles?.size ?? 0;
      rows.push({ kind: 'matrix-step', variant: name, batch, f16Tiles, gradScale, stepMs, tflops, ...first, gradientErrors: errors });
      saveJson();
      const gradientCell = errors ? `${errors.worst.toExponential(2)} (${errors.worstName}), ${errors.median.toExponential(2)}` : '-';
      console.log(
        `| ${name} | ${batch} | ${f16Tiles} | ${gradScale} | ${fmt(stepMs, 1)} | ${fmt((batch * 1000) / stepMs, 1)} | ${fmt(tflops)} | ${first.loss.toFixed(6)}${first.nonFinite ? ' (non-finite)' : ''} | ${gradientCell} |`,
      );
    } finally {
      await engine.destroy();
    }
  }

  // A short training run with the f16 tiles and dynamic loss scaling (as training would use them) against the f32
  // tiles: the losses side by side, the steps skipped, and how far the weights end apart. The same start and the same
  // batch at every step, the paper's learning rate.
  if (tuned.size > 0) {
    const runs = [{ scaling: {} }, { gemmTiles: tuned, scaling: { dynamicScale: { initial: F16_GRAD_SCALE } } }];
    const o = {
      batch,
      input: stepInput(config, batch),
      initial: initialValues(config),
      hyper: { ...HYPER, lr: 1e-3 },
      steps: TRAIN_STEPS,
      seconds: TRAIN_SECONDS,
    };
    const { losses, weights, skipped, lossScales } = await trainingDrift(device, config, o, runs);
    const [f32, f16] = losses;
    const w = weights[1]!;
    rows.push({
      kind: 'matrix-training',
      variant: name,
      batch,
      f32Losses: f32,
      f16Losses: f16,
      weightErrors: w,
      f16Skipped: skipped[1],
      f16LossScale: lossScales[1],
    });
    saveJson();
    console.log(`\n| ${name} training, batch ${batch} | f32 tiles: loss | f16 tiles, dynamic loss scale: loss | relative difference |\n|---|---|---|---|`);
    const shown = [...new Set([0, 1, 4, 9, 19, 29, 49, f32.length - 1])].filter((s) => s < f32.length);
    for (const s of shown) {
      const cell = (x: number | undefined) => (x === undefined ? '-' : Number.isNaN(x) ? 'non-finite' : x.toFixed(6));
      console.log(`| step ${s + 1} | ${cell(f32[s])} | ${cell(f16[s])} | ${fmt(Math.abs((f16[s] ?? Number.NaN) - f32[s]) / Math.abs(f32[s]))} |`);
    }
    console.log(
      `f16 tiles: ${skipped[1]} of ${f16.length} steps skipped (gradient overflow), loss scale ${F16_GRAD_SCALE} -> ${lossScales[1]}; ` +
        `weights after ${f16.length} steps against f32 tiles: worst tensor ${w.worst.toExponential(2)} (${w.worstName}), median tensor ${w.median.toExponential(2)}`,
    );
  }
  device.destroy();
}

/** The loss scale of the bench's f16 step, and where the training run's dynamic scale starts: PyTorch's GradScaler starts at 2^16. */
const F16_GRAD_SCALE = 2 ** 16;
/** The f16 training comparison: at most this many steps, and as many as fit in TRAIN_SECONDS with f32 tiles. */
const TRAIN_STEPS = 30;
const TRAIN_SECONDS = 15;

async function main(): Promise<void> {
  if (flags['tiles-out'] && (!flags.sweep || flags.matrix))
    throw new Error("gpu bench: --tiles-out needs --sweep (and not --matrix): it writes the sweep's best tile per shape");
  if (flags.matrix) return matrixMain();
  const mode = flags['bounds-checks'];
  if (!['off', 'on', 'both'].includes(mode)) throw new Error(`gpu bench: --bounds-checks ${mode}: expected off, on or both`);
  const opened = await openDevice(mode === 'on');
  const { device, adapter } = opened;
  const hardware = !opened.summary.software;
  const timed = hardware || flags.software;
  const peak = Number(flags['peak-tflops']);
  const { maxStorageBufferBindingSize: binding, maxComputeWorkgroupStorageSize: workgroup } = device.limits;
  console.log(
    `adapter: ${describeAdapter(opened.summary)}; maxStorageBufferBindingSize ${(binding / 2 ** 30).toFixed(2)} GiB; maxComputeWorkgroupStorageSize ${workgroup} B; features: ${[...adapter.features].join(', ')}`,
  );
  console.log(`Dawn's bounds checks ${mode === 'on' ? 'on' : 'off (disable_robustness)'}: an out-of-bounds storage read was ${opened.check}`);
  if (!timed) console.log('software adapter: counts and plans only (pass --software to time it anyway)');
  Object.assign(head, { adapter: opened.summary, boundsChecks: mode, boundsCheck: opened.check });

  // GEMM: 4096^3 and, with --sweep, every candidate tile (the best one runs the steps below).
  let tile: GemmTile = GEMM_TILES.large;
  if (timed) {
    const n = Number(flags['gemm-n']);
    // A software adapter compiles each kernel for seconds: there the sweep is a rehearsal of its first three tiles.
    const candidates = flags.sweep ? TILE_CANDIDATES.slice(0, hardware ? undefined : 3) : [GEMM_TILES.large];
    // Each candidate computes a product against the reference first: a wrong tile is never timed nor chosen.
    const t0 = performance.now();
    const { passed, rejected } = await checkedTiles(device, candidates, !hardware);
    const checkSeconds = (performance.now() - t0) / 1000;
    console.log(`\n| GEMM ${n}^3 tile | TFLOP/s | of fp32 peak |\n|---|---|---|`);
    for (const { tile: t, why } of rejected) {
      console.log(`| ${tileName(t)} | left out: ${why}; not timed | |`);
      rows.push({ kind: 'gemm', n, tile: tileName(t), leftOut: why });
    }
    let best = -1;
    for (const t of passed) {
      const rate = await gemmRate(device, { label: 'square', m: n, n, k: n }, t, SQUARE_SECONDS).catch(
        (e: Error) => (console.log(`| ${tileName(t)} | error: ${e.message} | |`), NaN),
      );
      if (Number.isFinite(rate)) console.log(`| ${tileName(t)} | ${fmt(rate)} | ${fmt(rate / peak, 3)} |`);
      rows.push({ kind: 'gemm', n, tile: tileName(t), tflops: rate });
      if (rate > best) [best, tile] = [rate, t];
    }
    console.log(`checking ${candidates.length} tile(s) against the reference took ${checkSeconds.toFixed(1)} s (the GEMMs tuned below reuse the checks)`);
    console.log(`the steps and features below run with ${tileName(tile)}${flags.sweep ? ` (the best at ${n}^3)` : ''}`);
  }
  head.tile = tile;
  saveJson();

  // Before the long rows, so that a run stopped by its time limit still has the comparison.
  if (timed && mode === 'both') await boundsCheckRows(opened, tile, peak);
  saveJson();
  const shapeTiles = timed ? await stepShapes(device, tile, peak, !hardware) : new Map<string, GemmTile>();
  head.shapeTiles = Object.fromEntries([...shapeTiles].map(([key, t]) => [key, tileName(t)]));
  saveJson();
  if (flags['tiles-out'] && shapeTiles.size > 0) {
    const file = flags['tiles-out'];
    try {
      writeFileSync(file, `${JSON.stringify(gemmTilesFile(shapeTiles, describeAdapter(opened.summary)), null, 2)}\n`);
      console.log(`tuned tiles of ${shapeTiles.size} shapes written to ${file} (trainer:train, eval:probe, eval:features: --gpu-tiles ${file})`);
    } catch (err) {
      // The steps below matter more than the file: say why and go on.
      console.log(`--tiles-out ${file}: not written: ${(err as Error).message}`);
    }
  }

  // Feature extraction is short; it goes before the steps, so that a run stopped by its time limit has it.
  if (flags['features-for']) await featureRows(device, tile, peak);

  const torchRows: string[] = [];
  const profileLines: string[] = [];
  const torchRuns = new Map<string, TorchStep>();
  console.log(`\nsteps with activations '${activations}' (--activations)${comparedModes.length > 0 ? `; rows named with a mode ran in that mode` : ''}`);
  console.log(
    '| variant | batch | planned GiB | allocated GiB | GPU GiB (nvidia-smi) | dispatches/step | per trunk block | command buffers/step | host reads in step | step ms | host ms to submit it | img/s | model TFLOP/s | of peak |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  // With --sweep, the variant whose shapes were swept runs a second time with each shape's best tile ("+ tuned").
  const sweptVariant = flags.sweep && shapeTiles.size > 0 ? shapesVariant() : undefined;
  interface StepRun {
    readonly run: string;
    readonly name: string;
    readonly activations: ActivationMode;
    readonly gemmTiles?: ReadonlyMap<string, GemmTile>;
    /** At the batch this variant's first row ran. */
    readonly sameBatch?: boolean;
  }
  const runs = flags.variants
    .split(',')
    .flatMap((name): StepRun[] => [
      { run: name, name, activations },
      ...(name === sweptVariant ? [{ run: `${name} + tuned`, name, activations, gemmTiles: shapeTiles }] : []),
      ...(name === shapesVariant() ? comparedModes.map((mode) => ({ run: `${name}, ${mode}`, name, activations: mode, sameBatch: true })) : []),
    ]);
  const firstBatch = new Map<string, number>();
  for (const { run, name, activations, gemmTiles, sameBatch } of runs) {
    const config = configOf(name);
    const want = batchFor.get(name) ?? flags.batch;
    const first = firstBatch.get(name);
    const candidates = sameBatch && first ? [first] : want === 'max' ? [128, 96, 64, 48, 32, 16] : [Number(want)];
    let engine: AimEngine | undefined;
    let batch = 0;
    const usedBefore = hardware ? gpuMemoryGiB('usedBytes') : undefined;
    // WebGPU does not say how much memory the GPU has; where nvidia-smi does, a batch planned past it is not tried
    // (a failed engine's memory may come back to the device only later, and the next, smaller batch needs it).
    const freeGiB = want === 'max' && hardware ? gpuMemoryGiB('freeBytes') : undefined;
    for (const b of candidates) {
      try {
        const planGiB = planMemory(config, b, { activations, maxBindingBytes: device.limits.maxStorageBufferBindingSize }).totalBytes / 2 ** 30;
        if (freeGiB !== undefined && planGiB > freeGiB) {
          console.log(`  ${name} batch ${b}: ${fmt(planGiB, 1)} GiB planned, ${fmt(freeGiB, 1)} GiB free on the GPU (nvidia-smi): not tried`);
          continue;
        }
        engine = await AimEngine.create(device, config, { batch: b, activations, gemmTile: tile, gemmTiles });
        batch = b;
        break;
      } catch (err) {
        if (candidates.length === 1) throw err;
        console.log(`  ${name} batch ${b}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (!engine) continue;
    if (!firstBatch.has(name)) firstBatch.set(name, batch);
    const plan = planMemory(config, batch, { activations, maxBindingBytes: device.limits.maxStorageBufferBindingSize, gemmTile: tile });
    let ours: number | undefined; // images/s of this row's step
    try {
      engine.setParameters(initialValues(config));
      const input = stepInput(config, batch);
      const before = engine.counters;
      const pending = engine.step([input], HYPER);
      const afterSubmit = engine.counters;
      const stats = await pending;
      const usedAfter = usedBefore === undefined ? undefined : gpuMemoryGiB('usedBytes');
      const measuredGiB = usedAfter === undefined || usedBefore === undefined ? undefined : usedAfter - usedBefore;
      const { stepMs, submitMs } = timed ? await timeSteps(engine, input) : { stepMs: NaN, submitMs: NaN };
      const flops = stepFlops(config, batch).total;
      const tflops = flops / (stepMs / 1000) / 1e12;
      const row = {
        kind: 'step',
        variant: name,
        ...(gemmTiles ? { tunedTiles: true } : {}),
        batch,
        activations,
        plannedBytes: plan.totalBytes,
        allocatedBytes: engine.allocatedBytes,
        ...(measuredGiB === undefined ? {} : { nvidiaSmiGiB: measuredGiB }),
        dispatches: afterSubmit.dispatches - before.dispatches,
        perTrunkBlock: engine.program.dispatchesPerTrunkBlock,
        commandBuffers: afterSubmit.commandBuffers - before.commandBuffers,
        hostReadsInStep: afterSubmit.hostReads - before.hostReads,
        stepMs,
        submitMs,
        imagesPerSecond: (batch * 1000) / stepMs,
        tflops,
        loss: stats.loss,
      };
      rows.push(row);
      saveJson();
      console.log(
        `| ${run} | ${batch} | ${fmt(plan.totalBytes / 2 ** 30, 3)} | ${fmt(engine.allocatedBytes / 2 ** 30, 3)} | ${fmt(measuredGiB ?? NaN, 3)} | ${row.dispatches} | ${row.perTrunkBlock} | ${row.commandBuffers} | ${row.hostReadsInStep} | ${fmt(stepMs, 1)} | ${fmt(submitMs, 2)} | ${fmt(row.imagesPerSecond, 1)} | ${fmt(tflops)} | ${fmt(tflops / peak, 3)} |`,
      );
      ours = row.imagesPerSecond;
      if (timed && device.features.has('timestamp-query')) {
        // One more step with every dispatch timed: where the time goes (the tables print after the step tables).
        const summary = summariseProfile(await engine.profileStep(input, HYPER));
        rows.push({ kind: 'profile', variant: name, ...(gemmTiles ? { tunedTiles: true } : {}), batch, activations, stepMs, ...summary });
        saveJson();
        profileLines.push(...profileTables(`${run} batch ${batch}`, stepMs, summary, fmt));
      }
    } finally {
      await engine.destroy();
    }
    // PyTorch runs after the engine has given its buffers back, so it has the whole GPU; once per variant and batch
    // (the tuned row is compared with that same run).
    if (ours !== undefined && timed && hardware) {
      await device.queue.onSubmittedWorkDone(); // Dawn frees destroyed buffers' memory once their work is done
      const key = `${name}@${batch}`;
      const t = torchRuns.get(key) ?? torchStep(config, batch, Number(flags.steps));
      if (!torchRuns.has(key)) {
        torchRuns.set(key, t);
        rows.push({ kind: 'torch', variant: name, batch, ...t });
        saveJson();
      }
      torchRows.push(
        t.imagesPerSecond
          ? `| ${run} | ${batch} | ${fmt(ours, 1)} | ${fmt(t.imagesPerSecond, 1)} | **${fmt(ours / t.imagesPerSecond, 3)}** | ${torchMode(t)} | ${fmt(t.peakGiB ?? NaN, 1)} | ${t.gemm ? fmt(t.gemm) : '-'} |`
          : `| ${run} | ${batch} | ${fmt(ours, 1)} | ${t.why} | - | - | - | - |`,
      );
    }
  }
  if (torchRows.length > 0) {
    console.log(
      '\n| variant | batch | ours img/s | PyTorch fp32 img/s | ours / PyTorch | PyTorch step | PyTorch peak GiB | PyTorch GEMM TFLOP/s |\n|---|---|---|---|---|---|---|---|',
    );
    torchRows.forEach((r) => console.log(r));
  }
  profileLines.forEach((l) => console.log(l));
  saveJson();
  device.destroy();
}

await main();
