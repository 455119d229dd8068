// Command-line parsing for eval:probe and eval:features, in @aim/cli's dialect: typed, frozen options; every bad
// flag is a usage error that names the flag, the valid choices and the closest match.
import { UsageError, intFlag, numberFlag, parseCommandLine, type CommandLine, type FlagSpec } from '@aim/cli';
import { BACKEND_CHOICES, type BackendChoice } from '@aim/model';
import { ON_OFF } from '@aim/train';
import type { ProbeRecipeOptions } from './train-probe.js';

export { UsageError };
export const PROBE_KINDS = ['attentive', 'linear', 'knn'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** `last` and `best` are resolved against the trunk's depth later; a list is explicit 0-based block indices. */
export type BlockSelection = { readonly kind: 'last' } | { readonly kind: 'best' } | { readonly kind: 'list'; readonly blocks: readonly number[] };

/** eval:probe's options; the probe recipe fields (epochs, batchSize, lr, weightDecay, warmupEpochs, seed) come from ProbeRecipeOptions. */
export interface ProbeArgs extends ProbeRecipeOptions {
  /** A checkpoint file, or a run directory whose checkpoints are all probed. Absent with --random-init. */
  readonly checkpoint?: string;
  readonly randomInit: boolean;
  /** Model variant (a row of @aim/model's registry) for --random-init. */
  readonly variant?: string;
  /** Data specs: `mnist` (the trainer's prepared MNIST shards) or a shard URL pattern with brace expansion. */
  readonly train: string;
  readonly test: string;
  readonly trainLimit: number;
  readonly testLimit: number;
  readonly probe: ProbeKind;
  readonly blocks: BlockSelection;
  readonly sweep: boolean;
  readonly baselines: boolean;
  readonly backend?: BackendChoice;
  readonly out?: string;
  /** Folder of prepared data and caches, as the trainer's --cache-dir: MNIST in <dir>/mnist, features in <dir>/eval-features. */
  readonly cacheDir: string;
  /** Seed of the random-init trunk (default 0, the trainer's default seed: the baseline is the run's own init). */
  readonly initSeed: number;
  readonly knnK: number;
  readonly knnTemperature: number;
  /** Class names saved with the probe (`a,b,c` or `@file` with one name per line); MNIST's digits by default. */
  readonly classNames?: string;
  /** GEMM tiles for the engine's feature extraction: 'auto' (tuned on this GPU) or the engine bench's --tiles-out file. */
  readonly gpuTiles?: string;
  /** The engine's device keeps Dawn's bounds checks (--gpu-bounds-checks on). */
  readonly gpuBoundsChecks: boolean;
}

export interface FeaturesArgs {
  readonly checkpoint: string;
  readonly input: string;
  readonly out: string;
  readonly backend?: BackendChoice;
  readonly gpuTiles?: string;
  /** The engine's device keeps Dawn's bounds checks (--gpu-bounds-checks on); off when absent. */
  readonly gpuBoundsChecks?: boolean;
  /** Where --gpu-tiles auto keeps its tiles (<dir>/gpu-tiles), as the trainer's --cache-dir; default 'cache'. */
  readonly cacheDir?: string;
}

const BACKEND_LIST = BACKEND_CHOICES.join('|');

export const PROBE_USAGE = `usage: npx nx run eval:probe -- (--checkpoint <run dir or file> | --random-init --variant <name>)
    [--train <spec>] [--test <spec>] [--train-limit N] [--test-limit N]
    [--probe attentive|linear|knn] [--blocks last|best|i,j,...] [--no-sweep] [--no-baselines]
    [--backend ${BACKEND_LIST}] [--gpu-tiles auto|<file>] [--gpu-bounds-checks off|on] [--out <dir>] [--cache-dir <dir>]
    [--epochs N] [--batch-size N] [--lr X] [--weight-decay X] [--warmup-epochs N] [--seed N] [--init-seed N]
    [--knn-k N] [--knn-temperature X] [--class-names a,b,...|@file] [--verbose] [--help]
  <spec> is 'mnist' / 'mnist:train' / 'mnist:test' (the trainer's prepared MNIST shards) or a shard URL pattern
  such as 'data/val-{000000..000003}.tar'. --cache-dir (default 'cache', as the trainer's) holds the prepared MNIST
  shards, the feature cache (<dir>/eval-features) and the tiles of --gpu-tiles auto (<dir>/gpu-tiles). --class-names
  (one per class, in label order; '@file' reads one per line) go into probe.safetensors for the browser page; on MNIST
  they default to the digits. --gpu-tiles, when the WebGPU engine extracts the features: auto tunes the engine's GEMM
  tiles on this GPU once (kept for the next run), <file> takes those the engine bench tuned
  (\`npx nx run gpu:bench -- --sweep --tiles-out <file>\`); the same features either way. --gpu-bounds-checks on:
  the engine's device keeps Dawn's clamp of every storage index (slower, the same features; off by default, as in
  the trainer).
  Progress goes to stderr, the result to stdout. Exit status: 0 done, 1 failed (--verbose: with the stack), 2 usage.`;

export const FEATURES_USAGE = `usage: npx nx run eval:features -- --checkpoint <file> --input <safetensors with 'input' [B,3,H,W]> --out <file>
    [--backend ${BACKEND_LIST}] [--gpu-tiles auto|<file>] [--gpu-bounds-checks off|on] [--cache-dir <dir>] [--verbose] [--help]
  --gpu-tiles, when the WebGPU engine computes the features: auto tunes the engine's GEMM tiles on this GPU once
  (kept in <cache-dir>/gpu-tiles, default cache/gpu-tiles), <file> takes those the engine bench tuned.
  --gpu-bounds-checks on: the engine's device keeps Dawn's clamp of every storage index (slower, the same features).
  Exit status: 0 done, 1 failed (--verbose: with the stack), 2 usage.`;

export const PROBE_FLAGS: Readonly<Record<string, FlagSpec>> = Object.freeze({
  checkpoint: { type: 'string' },
  'random-init': { type: 'boolean' },
  variant: { type: 'string' },
  train: { type: 'string' },
  test: { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  probe: { type: 'string', choices: PROBE_KINDS },
  blocks: { type: 'string' },
  sweep: { type: 'boolean' },
  baselines: { type: 'boolean' },
  backend: { type: 'string', choices: BACKEND_CHOICES },
  out: { type: 'string' },
  'cache-dir': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  'warmup-epochs': { type: 'string' },
  seed: { type: 'string' },
  'init-seed': { type: 'string' },
  'knn-k': { type: 'string' },
  'knn-temperature': { type: 'string' },
  'class-names': { type: 'string' },
  'gpu-tiles': { type: 'string' },
  'gpu-bounds-checks': { type: 'string', choices: ON_OFF },
});

/** Names these flags had before the tools shared one vocabulary. */
export const PROBE_RENAMED: Readonly<Record<string, string>> = Object.freeze({ preset: 'variant', cache: 'cache-dir' });

export const FEATURES_FLAGS: Readonly<Record<string, FlagSpec>> = Object.freeze({
  checkpoint: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string' },
  backend: { type: 'string', choices: BACKEND_CHOICES },
  'gpu-tiles': { type: 'string' },
  'gpu-bounds-checks': { type: 'string', choices: ON_OFF },
  'cache-dir': { type: 'string' },
});

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

/** eval:probe's options from a parsed command line. */
export function probeArgsFromCli(cli: CommandLine): ProbeArgs {
  const v = cli.values;
  const str = (k: string) => v[k] as string | undefined;
  const randomInit = v['random-init'] === true;
  const checkpoint = str('checkpoint');
  const variant = str('variant');
  if (randomInit && checkpoint !== undefined) {
    throw new UsageError('--random-init and --checkpoint exclude each other: the random-init trunk takes its shape from --variant');
  }
  if (randomInit && variant === undefined) throw new UsageError('--random-init needs --variant <name> (a row of the model registry, e.g. aim-dev-tiny)');
  if (!randomInit && checkpoint === undefined) throw new UsageError('give --checkpoint <run dir or file> or --random-init --variant <name>');
  if (!randomInit && variant !== undefined) throw new UsageError('--variant only applies with --random-init (a checkpoint carries its own config)');
  const args: ProbeArgs = {
    checkpoint,
    randomInit,
    variant,
    train: str('train') ?? 'mnist:train',
    test: str('test') ?? 'mnist:test',
    trainLimit: intFlag('train-limit', v['train-limit'], 5000, 1),
    testLimit: intFlag('test-limit', v['test-limit'], 1000, 1),
    probe: (str('probe') ?? 'attentive') as ProbeKind,
    blocks: parseBlocks(str('blocks') ?? 'last'),
    sweep: v.sweep !== false,
    baselines: v.baselines !== false,
    backend: str('backend') as BackendChoice | undefined,
    out: str('out'),
    cacheDir: str('cache-dir') ?? 'cache',
    epochs: intFlag('epochs', v.epochs, 20, 1),
    batchSize: intFlag('batch-size', v['batch-size'], 64, 1),
    lr: numberFlag('lr', v.lr, 1e-2),
    weightDecay: numberFlag('weight-decay', v['weight-decay'], 0.05, true),
    warmupEpochs: intFlag('warmup-epochs', v['warmup-epochs'], 1, 0),
    seed: intFlag('seed', v.seed, 0, 0),
    initSeed: intFlag('init-seed', v['init-seed'], 0, 0),
    knnK: intFlag('knn-k', v['knn-k'], 20, 1),
    knnTemperature: numberFlag('knn-temperature', v['knn-temperature'], 0.07),
    classNames: str('class-names'),
    gpuTiles: str('gpu-tiles'),
    gpuBoundsChecks: str('gpu-bounds-checks') === 'on',
  };
  if (args.warmupEpochs >= args.epochs) {
    throw new UsageError(`--warmup-epochs (${args.warmupEpochs}) must be below --epochs (${args.epochs})`);
  }
  return Object.freeze(args);
}

/** eval:features' options from a parsed command line. */
export function featuresArgsFromCli(cli: CommandLine): FeaturesArgs {
  const v = cli.values as Record<string, string | undefined>;
  for (const k of ['checkpoint', 'input', 'out']) {
    if (v[k] === undefined) throw new UsageError(`--${k} is required`);
  }
  return Object.freeze({
    checkpoint: v.checkpoint!,
    input: v.input!,
    out: v.out!,
    backend: v.backend as BackendChoice | undefined,
    gpuTiles: v['gpu-tiles'],
    gpuBoundsChecks: v['gpu-bounds-checks'] === 'on',
    cacheDir: v['cache-dir'],
  });
}

/** Parses eval:probe's argv (--help is the caller's: see main-probe.ts). */
export function parseProbeArgs(argv: readonly string[]): ProbeArgs {
  return probeArgsFromCli(parseCommandLine(argv, { flags: PROBE_FLAGS, renamed: PROBE_RENAMED }));
}

/** Parses eval:features' argv. */
export function parseFeaturesArgs(argv: readonly string[]): FeaturesArgs {
  return featuresArgsFromCli(parseCommandLine(argv, { flags: FEATURES_FLAGS }));
}
