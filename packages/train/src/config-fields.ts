// The training config's fields: each one's type, allowed values, default and one-line description. Everything that
// reads, checks or prints a config (files, flags, help, checkpoints) works from this one table.
import { BACKEND_CHOICES, type BackendChoice } from '@aim/model';
import { ACTIVATION_CHOICES, type ActivationChoice } from './activations.js';
import { DATA_SPLITS, type DataSplit } from './data-share.js';
import { PAPER_OPTIMISER, PRESETS } from './presets.js';

export const AUGMENTATIONS = ['train', 'eval'] as const;
export const ON_OFF = ['off', 'on'] as const;

export interface TrainConfig {
  /** Preset the run started from (informational; set by resolution). */
  readonly preset: string;
  /** Model variant, a row of @aim/model's registry. */
  readonly variant: string;
  /** Training shards: a WebDataset spec (brace expansion, files or URLs), or `mnist` for the built-in data set. */
  readonly data: string;
  /** Validation shards (same forms as `data`); empty: no validation. `mnist` means the held-out MNIST split. */
  readonly valData: string;
  /** Folder where the built-in MNIST shards are prepared once. */
  readonly cacheDir: string;
  /** Total optimiser steps of the schedule. */
  readonly steps: number;
  /** Images per forward/backward pass (micro-batch). */
  readonly batchSize: number;
  /** Micro-batches accumulated per optimiser step: global batch = batchSize * accum. */
  readonly accum: number;
  /** Data parallel: every rank reads the whole stream and decodes its share ('samples'), or reads only its own shards. */
  readonly dataSplit: DataSplit;
  readonly lr: number;
  readonly warmupFraction: number;
  readonly warmupStartLr: number;
  readonly finalLr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Global-norm gradient clipping threshold; 0 disables. */
  readonly clipNorm: number;
  readonly backend: BackendChoice;
  /** WebGPU engine only: what the backward keeps of the forward and what it computes again (@aim/gpu's ActivationMode), or 'auto'. */
  readonly activations: ActivationChoice;
  /** WebGPU engine only: a tuned-tiles file (`npx nx run gpu:bench -- --sweep --tiles-out <file>`); empty: defaults. */
  readonly gpuTiles: string;
  /** WebGPU engine only: 'on' keeps Dawn's clamp of every storage index (slower; the engine's kernels do not need it). */
  readonly gpuBoundsChecks: (typeof ON_OFF)[number];
  /** Decode workers of the data loader. */
  readonly workers: number;
  /** Batches decoded ahead of the step. */
  readonly prefetch: number;
  readonly augment: (typeof AUGMENTATIONS)[number];
  readonly seed: number;
  /** Run folder; empty: runs/<preset>-<timestamp>. */
  readonly out: string;
  /** Checkpoint folder, run folder, or `latest` (newest run under runs/); empty: start fresh. */
  readonly resume: string;
  readonly saveEvery: number;
  readonly keep: number;
  /** Stop (saving a checkpoint) after this step of the full schedule, as if interrupted; 0: never. */
  readonly stopAt: number;
  /** Validation every N steps (and at the end); 0: only at the end. */
  readonly valEvery: number;
  /** Validation batches per evaluation (fixed, so values compare). */
  readonly valBatches: number;
  /** Metrics line every N steps. */
  readonly logEvery: number;
}

type FieldSpec =
  | { readonly kind: 'int'; readonly min: number }
  | { readonly kind: 'number'; readonly min: number; readonly exclusiveMin?: boolean; readonly max?: number }
  | { readonly kind: 'string' }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

export interface ConfigField {
  readonly key: keyof TrainConfig;
  readonly flag: string;
  readonly spec: FieldSpec;
  readonly doc: string;
}

const int = (min: number): FieldSpec => ({ kind: 'int', min });
const num = (min: number, exclusiveMin = false, max?: number): FieldSpec => ({ kind: 'number', min, exclusiveMin, max });
const str: FieldSpec = { kind: 'string' };

const SPECS: { readonly [K in keyof TrainConfig]: readonly [FieldSpec, string] } = {
  preset: [{ kind: 'enum', values: Object.keys(PRESETS) }, 'preset to start from'],
  variant: [str, 'model variant (a row of the @aim/model registry)'],
  data: [str, "training shards: WebDataset spec, or 'mnist' (built-in)"],
  valData: [str, "validation shards, or 'mnist' (held-out split); for none: --no-val (or --val-data=)"],
  cacheDir: [str, 'folder for the prepared built-in data set'],
  steps: [int(1), 'optimiser steps of the full schedule'],
  batchSize: [int(1), 'images per micro-batch'],
  accum: [int(1), 'micro-batches per optimiser step'],
  dataSplit: [
    { kind: 'enum', values: DATA_SPLITS },
    "data parallel: 'samples' (every rank reads the whole stream and decodes only its share: together the one-process stream, resumable on any number of ranks) or 'shards' (rank r reads only shards r, r+N, ...: N times less reading, for web-scale data, and the paper presets' choice; resumes only on N ranks)",
  ],
  lr: [num(0, true), 'peak learning rate'],
  warmupFraction: [num(0, false, 1), 'fraction of steps of linear warm-up'],
  warmupStartLr: [num(0), 'learning rate at step 0'],
  finalLr: [num(0), 'learning rate at the end of the cosine'],
  weightDecay: [num(0), 'decoupled weight decay (not on biases, norms, position embeddings)'],
  beta1: [num(0, false, 0.999999), 'AdamW beta1'],
  beta2: [num(0, false, 0.999999), 'AdamW beta2'],
  eps: [num(0, true), 'AdamW epsilon'],
  clipNorm: [num(0), 'global gradient-norm clip (0: off)'],
  backend: [{ kind: 'enum', values: BACKEND_CHOICES }, 'compute backend (webgpu: the WebGPU engine; the others: tfjs)'],
  activations: [
    { kind: 'enum', values: ACTIVATION_CHOICES },
    "webgpu: 'recompute' each block in the backward (least memory), 'selective' (keep the GEMMs' outputs, recompute norms, attention probabilities and GELU: no GEMM twice), 'keep' every activation (most memory), or 'auto': the least recomputation whose plan fits 90% of the GPU's free memory by nvidia-smi ('recompute' without a reading); the same results in every mode",
  ],
  gpuTiles: [
    str,
    "webgpu: GEMM tiles: 'auto' (tuned on this GPU once, kept in <cache-dir>/gpu-tiles/) or a file from gpu:bench --sweep --tiles-out; the same results, bit for bit",
  ],
  gpuBoundsChecks: [{ kind: 'enum', values: ON_OFF }, "webgpu: 'on' keeps Dawn's bounds checks on every storage access (slower; the same results)"],
  workers: [int(1), 'data-loader decode workers'],
  prefetch: [int(1), 'batches decoded ahead of the step'],
  augment: [{ kind: 'enum', values: AUGMENTATIONS }, "training transform: 'train' (random crop + flip) or 'eval'"],
  seed: [int(0), 'run seed (init, data order, prefix lengths)'],
  out: [str, 'run folder (default runs/<preset>-<timestamp>)'],
  resume: [str, "resume from a checkpoint or run folder, or 'latest'"],
  saveEvery: [int(1), 'checkpoint every N steps (and at the end)'],
  keep: [int(1), 'checkpoints to keep'],
  stopAt: [int(0), 'stop after this step as if interrupted (0: never)'],
  valEvery: [int(0), 'validate every N steps (0: only at the end)'],
  valBatches: [int(1), 'validation batches per evaluation'],
  logEvery: [int(1), 'metrics record every N steps'],
};

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

export const CONFIG_FIELDS: readonly ConfigField[] = Object.freeze(
  (Object.keys(SPECS) as Array<keyof TrainConfig>).map((key) => ({ key, flag: '--' + kebab(key), spec: SPECS[key][0], doc: SPECS[key][1] })),
);

/** Values every preset starts from: the paper's optimiser settings and a small local run. */
export const DEFAULT_CONFIG: TrainConfig = Object.freeze({
  preset: 'demo',
  variant: 'aim-dev-tiny',
  data: 'mnist',
  valData: 'mnist',
  cacheDir: 'cache',
  steps: 1000,
  batchSize: 32,
  accum: 1,
  dataSplit: 'samples',
  ...PAPER_OPTIMISER,
  backend: 'auto',
  activations: 'auto',
  gpuTiles: '',
  gpuBoundsChecks: 'off',
  workers: 2,
  prefetch: 4,
  augment: 'train',
  seed: 0,
  out: '',
  resume: '',
  saveEvery: 500,
  keep: 3,
  stopAt: 0,
  valEvery: 250,
  valBatches: 8,
  logEvery: 10,
});

/** What a field accepts, in words (error messages and help). */
export function describeSpec(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'int':
      return `an integer >= ${spec.min}`;
    case 'number':
      return `a number ${spec.exclusiveMin ? '>' : '>='} ${spec.min}${spec.max !== undefined ? ` and <= ${spec.max}` : ''}`;
    case 'string':
      return 'a string';
    case 'enum':
      return `one of ${spec.values.map((v) => `'${v}'`).join(', ')}`;
  }
}
