// Command-line parsing for eval:probe and eval:features: typed, frozen options; every bad flag is an error
// that names the flag and the valid choices.
import { parseArgs } from 'node:util';
import type { ProbeRecipeOptions } from './train-probe.js';

export const PROBE_KINDS = ['attentive', 'linear', 'knn'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];
export const BACKENDS = ['auto', 'cpu', 'wasm', 'webgpu', 'tensorflow'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** `last` and `best` are resolved against the trunk's depth later; a list is explicit 0-based block indices. */
export type BlockSelection = { readonly kind: 'last' } | { readonly kind: 'best' } | { readonly kind: 'list'; readonly blocks: readonly number[] };

/** eval:probe's options; the probe recipe fields (epochs, batchSize, lr, weightDecay, warmupEpochs, seed) come from ProbeRecipeOptions. */
export interface ProbeArgs extends ProbeRecipeOptions {
  /** A checkpoint file, or a run directory whose checkpoints are all probed. Absent with --random-init. */
  readonly checkpoint?: string;
  readonly randomInit: boolean;
  /** Variant name for --random-init. */
  readonly preset?: string;
  /** Data specs: `mnist` (the trainer's prepared MNIST shards) or a shard URL pattern with brace expansion. */
  readonly train: string;
  readonly test: string;
  readonly trainLimit: number;
  readonly testLimit: number;
  readonly probe: ProbeKind;
  readonly blocks: BlockSelection;
  readonly sweep: boolean;
  readonly baselines: boolean;
  readonly backend?: BackendName;
  readonly out?: string;
  readonly cacheDir?: string;
  /** Seed of the random-init trunk (default 0, the trainer's default seed: the baseline is the run's own init). */
  readonly initSeed: number;
  readonly knnK: number;
  readonly knnTemperature: number;
}

export interface FeaturesArgs {
  readonly checkpoint: string;
  readonly input: string;
  readonly out: string;
  readonly backend?: BackendName;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const PROBE_USAGE = `usage: npx nx run eval:probe -- (--checkpoint <run dir or file> | --random-init --preset <name>)
    [--train <spec>] [--test <spec>] [--train-limit N] [--test-limit N]
    [--probe attentive|linear|knn] [--blocks last|best|i,j,...] [--no-sweep] [--no-baselines]
    [--backend auto|cpu|wasm|webgpu|tensorflow] [--out <dir>] [--cache <dir>]
    [--epochs N] [--batch-size N] [--lr X] [--weight-decay X] [--warmup-epochs N] [--seed N] [--init-seed N]
    [--knn-k N] [--knn-temperature X]
  <spec> is 'mnist' / 'mnist:train' / 'mnist:test' (the trainer's prepared MNIST shards) or a shard URL pattern
  such as 'data/val-{000000..000003}.tar'.`;

export const FEATURES_USAGE = `usage: npx nx run eval:features -- --checkpoint <file> --input <safetensors with 'input' [B,3,H,W]> --out <file>
    [--backend auto|cpu|wasm|webgpu|tensorflow]`;

function choice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag}: '${value}' is not one of ${choices.join(', ')}`);
  }
  return value as T;
}

function integer(flag: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${flag}: '${value}' is not an integer`);
  const n = Number(value);
  if (n < min) throw new UsageError(`--${flag}: ${n} is below the minimum ${min}`);
  return n;
}

function positiveNumber(flag: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`--${flag}: '${value}' is not a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
  return n;
}

/** Parses `last`, `best` or a comma list of 0-based block indices such as `2,3` or `1-4` ranges. */
export function parseBlocks(value: string): BlockSelection {
  if (value === 'last' || value === 'best') return { kind: value };
  const blocks: number[] = [];
  for (const part of value.split(',')) {
    const range = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
    if (!range) throw new UsageError(`--blocks: '${value}' is not 'last', 'best' or a list of block indices like 2,3 or 2-5`);
    const lo = Number(range[1]);
    const hi = range[2] === undefined ? lo : Number(range[2]);
    if (hi < lo) throw new UsageError(`--blocks: range '${part.trim()}' runs backwards`);
    for (let b = lo; b <= hi; b++) blocks.push(b);
  }
  const unique = [...new Set(blocks)].sort((a, b) => a - b);
  if (unique.length !== blocks.length) throw new UsageError(`--blocks: '${value}' names a block twice`);
  return { kind: 'list', blocks: unique };
}

type OptionSpecs = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

function parseStrict(argv: readonly string[], options: OptionSpecs, usage: string) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
}

export function parseProbeArgs(argv: readonly string[]): ProbeArgs {
  const v = parseStrict(
    argv,
    {
      checkpoint: { type: 'string' },
      'random-init': { type: 'boolean' },
      preset: { type: 'string' },
      train: { type: 'string' },
      test: { type: 'string' },
      'train-limit': { type: 'string' },
      'test-limit': { type: 'string' },
      probe: { type: 'string' },
      blocks: { type: 'string' },
      sweep: { type: 'boolean' },
      baselines: { type: 'boolean' },
      backend: { type: 'string' },
      out: { type: 'string' },
      cache: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      'warmup-epochs': { type: 'string' },
      seed: { type: 'string' },
      'init-seed': { type: 'string' },
      'knn-k': { type: 'string' },
      'knn-temperature': { type: 'string' },
    },
    PROBE_USAGE,
  ) as Record<string, string | boolean | undefined>;
  const str = (k: string) => v[k] as string | undefined;
  const randomInit = v['random-init'] === true;
  const checkpoint = str('checkpoint');
  const preset = str('preset');
  if (randomInit && checkpoint !== undefined) {
    throw new UsageError('--random-init and --checkpoint exclude each other: the random-init trunk takes its shape from --preset');
  }
  if (randomInit && preset === undefined) throw new UsageError('--random-init needs --preset <variant name>');
  if (!randomInit && checkpoint === undefined) throw new UsageError(`give --checkpoint <run dir or file> or --random-init --preset <name>\n${PROBE_USAGE}`);
  if (!randomInit && preset !== undefined) throw new UsageError('--preset only applies with --random-init (a checkpoint carries its own config)');
  const args: ProbeArgs = {
    checkpoint,
    randomInit,
    preset,
    train: str('train') ?? 'mnist:train',
    test: str('test') ?? 'mnist:test',
    trainLimit: integer('train-limit', str('train-limit'), 5000, 1),
    testLimit: integer('test-limit', str('test-limit'), 1000, 1),
    probe: choice('probe', str('probe') ?? 'attentive', PROBE_KINDS),
    blocks: parseBlocks(str('blocks') ?? 'last'),
    sweep: v.sweep !== false,
    baselines: v.baselines !== false,
    backend: str('backend') === undefined ? undefined : choice('backend', str('backend')!, BACKENDS),
    out: str('out'),
    cacheDir: str('cache'),
    epochs: integer('epochs', str('epochs'), 20, 1),
    batchSize: integer('batch-size', str('batch-size'), 64, 1),
    lr: positiveNumber('lr', str('lr'), 1e-2),
    weightDecay: positiveNumber('weight-decay', str('weight-decay'), 0.05, true),
    warmupEpochs: integer('warmup-epochs', str('warmup-epochs'), 1, 0),
    seed: integer('seed', str('seed'), 0, 0),
    initSeed: integer('init-seed', str('init-seed'), 0, 0),
    knnK: integer('knn-k', str('knn-k'), 20, 1),
    knnTemperature: positiveNumber('knn-temperature', str('knn-temperature'), 0.07),
  };
  if (args.warmupEpochs >= args.epochs) {
    throw new UsageError(`--warmup-epochs (${args.warmupEpochs}) must be below --epochs (${args.epochs})`);
  }
  return Object.freeze(args);
}

export function parseFeaturesArgs(argv: readonly string[]): FeaturesArgs {
  const v = parseStrict(
    argv,
    { checkpoint: { type: 'string' }, input: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' } },
    FEATURES_USAGE,
  ) as Record<string, string | undefined>;
  for (const k of ['checkpoint', 'input', 'out']) {
    if (v[k] === undefined) throw new UsageError(`--${k} is required\n${FEATURES_USAGE}`);
  }
  return Object.freeze({
    checkpoint: v.checkpoint!,
    input: v.input!,
    out: v.out!,
    backend: v.backend === undefined ? undefined : choice('backend', v.backend, BACKENDS),
  });
}
