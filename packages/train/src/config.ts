// The one typed, frozen training config: defaults, then a preset, then a config file, then flags.
// Unknown keys and bad values are errors that name the valid choices.
import { readFileSync } from 'node:fs';
import { didYouMean } from '@aim/cli';
import { BACKEND_CHOICES, type BackendChoice } from '@aim/model';
import { PRESETS, type Preset } from './presets.js';

export const AUGMENTATIONS = ['train', 'eval'] as const;
/** What the WebGPU engine keeps for the backward pass: block inputs (recomputing each block) or everything. */
export const ACTIVATIONS = ['recompute', 'keep'] as const;

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
  /** WebGPU engine only: 'recompute' keeps each block's input and recomputes the block in the backward; 'keep' keeps all. */
  readonly activations: (typeof ACTIVATIONS)[number];
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
  activations: [{ kind: 'enum', values: ACTIVATIONS }, "webgpu: 'recompute' blocks in the backward (least memory) or 'keep' every activation (faster)"],
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

const FIELD_BY_KEY = new Map(CONFIG_FIELDS.map((f) => [f.key as string, f]));
const FIELD_BY_FLAG = new Map(CONFIG_FIELDS.map((f) => [f.flag, f]));

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
  lr: 1e-3,
  warmupFraction: 0.025,
  warmupStartLr: 1e-6,
  finalLr: 0,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clipNorm: 1.0,
  backend: 'auto',
  activations: 'recompute',
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

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** " (did you mean 'x'?)" when a close candidate exists (the same hint every command line here gives). */
export function suggestion(input: string, candidates: readonly string[]): string {
  return didYouMean(input, candidates);
}

function describe(spec: FieldSpec): string {
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

/** Checks a typed value (from a file or a flag) against the field's spec; `where` names its origin for errors. */
function checkValue(field: ConfigField, value: unknown, where: string): TrainConfig[keyof TrainConfig] {
  const { spec } = field;
  const bad = (): never => {
    throw new ConfigError(`${where}: '${field.key}' must be ${describe(spec)}, got ${JSON.stringify(value)}`);
  };
  switch (spec.kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < spec.min) bad();
      return value as number;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad();
      if ((value as number) < spec.min || (spec.exclusiveMin && value === spec.min)) bad();
      if (spec.max !== undefined && (value as number) > spec.max) bad();
      return value as number;
    case 'string':
      if (typeof value !== 'string') bad();
      return value as string;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        throw new ConfigError(
          `${where}: '${field.key}' must be ${describe(spec)}, got ${JSON.stringify(value)}` +
            (typeof value === 'string' ? suggestion(value, spec.values) : ''),
        );
      }
      return value as string;
  }
}

/** Parses a flag's text into the field's type (numbers accept 1e-3, 4_096 is not accepted). */
function parseFlagValue(field: ConfigField, text: string): unknown {
  if (field.spec.kind === 'int' || field.spec.kind === 'number') {
    const n = text.trim() === '' ? NaN : Number(text);
    if (Number.isNaN(n)) throw new ConfigError(`flag ${field.flag}: must be ${describe(field.spec)}, got '${text}'`);
    return n;
  }
  return text;
}

export type ConfigValues = Partial<Record<keyof TrainConfig, unknown>>;

/** Flag name -> config field, for CLIs. Throws naming the valid flags. */
export function fieldForFlag(flag: string): ConfigField {
  const field = FIELD_BY_FLAG.get(flag);
  if (!field) {
    const flags = CONFIG_FIELDS.map((f) => f.flag);
    throw new ConfigError(`unknown flag ${flag}${suggestion(flag, flags)}; valid flags: ${flags.join(' ')}`);
  }
  return field;
}

/** Raw flag strings (`{'--lr': '3e-4'}`) -> typed, checked config values. */
export function flagsToValues(flags: ReadonlyMap<string, string>): ConfigValues {
  const out: Record<string, unknown> = {};
  for (const [flag, text] of flags) {
    const field = fieldForFlag(flag);
    out[field.key] = checkValue(field, parseFlagValue(field, text), `flag ${flag}`);
  }
  return out;
}

/** Checks a JSON object's keys and value types; `where` names the file. */
export function checkValues(values: unknown, where: string): ConfigValues {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ConfigError(`${where}: a config must be a JSON object of settings, got ${JSON.stringify(values)}`);
  }
  const out: Record<string, unknown> = {};
  const keys = CONFIG_FIELDS.map((f) => f.key as string);
  for (const [key, value] of Object.entries(values)) {
    const field = FIELD_BY_KEY.get(key);
    if (!field) throw new ConfigError(`${where}: unknown key '${key}'${suggestion(key, keys)}; valid keys: ${keys.join(', ')}`);
    out[key] = checkValue(field, value, where);
  }
  return out;
}

export function readConfigFile(path: string): ConfigValues {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: cannot read it (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  return checkValues(parsed, `config file ${path}`);
}

export function presetByName(name: string): Preset {
  const preset = PRESETS[name];
  if (!preset) {
    const names = Object.keys(PRESETS);
    throw new ConfigError(`unknown preset '${name}'${suggestion(name, names)}; valid presets: ${names.join(', ')}`);
  }
  return preset;
}

export interface ResolveInputs {
  /** Preset name from a flag; wins over a preset named in the file. */
  readonly preset?: string;
  /** Values from a --config file (already checked with readConfigFile / checkValues). */
  readonly file?: ConfigValues;
  /** Values from flags (already checked with flagsToValues). */
  readonly flags?: ConfigValues;
}

/** defaults -> preset -> file -> flags, then cross-field checks; returns a frozen config. */
export function resolveConfig(inputs: ResolveInputs = {}): TrainConfig {
  const presetName = (inputs.flags?.preset as string | undefined) ?? inputs.preset ?? (inputs.file?.preset as string | undefined) ?? DEFAULT_CONFIG.preset;
  const preset = presetByName(presetName);
  const merged = { ...DEFAULT_CONFIG, ...preset.values, ...inputs.file, ...inputs.flags, preset: presetName } as TrainConfig;
  for (const field of CONFIG_FIELDS) checkValue(field, merged[field.key], `preset '${presetName}'`);
  if (merged.data === '') {
    throw new ConfigError(`preset '${presetName}' needs training data: pass --data <shard spec> (e.g. '/data/dfn/{000000..000999}.tar')`);
  }
  if (merged.warmupStartLr > merged.lr) {
    throw new ConfigError(`warmupStartLr (${merged.warmupStartLr}) must not exceed lr (${merged.lr})`);
  }
  if (merged.stopAt > merged.steps) {
    throw new ConfigError(`stopAt (${merged.stopAt}) must be <= steps (${merged.steps}); stopAt is a step of the full schedule`);
  }
  return Object.freeze(merged);
}

/** The config as printed at start and saved in checkpoints and logs (stable key order). */
export function formatConfig(config: TrainConfig): string {
  return JSON.stringify(Object.fromEntries(CONFIG_FIELDS.map((f) => [f.key, config[f.key]])), null, 2);
}

/** Help text: every flag with its type and default. */
export function configHelp(): string {
  const width = Math.max(...CONFIG_FIELDS.map((f) => f.flag.length));
  return CONFIG_FIELDS.map(
    (f) => `  ${f.flag.padEnd(width)}  ${f.doc}; ${describe(f.spec)} (default ${JSON.stringify(DEFAULT_CONFIG[f.key])})`,
  ).join('\n');
}
