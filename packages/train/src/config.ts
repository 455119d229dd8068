// The one typed, frozen training config: defaults, then a preset, then a config file, then flags.
// Its parts: the fields (config-fields.ts), checking values (config-values.ts), flags and help (config-flags.ts);
// this module resolves and prints a config, and re-exports the parts so callers import the config from one place.
import { didYouMean } from '@aim/cli';
import { CONFIG_FIELDS, DEFAULT_CONFIG, type TrainConfig } from './config-fields.js';
import { ConfigError, checkValue, type ConfigValues } from './config-values.js';
import { PRESETS, type Preset } from './presets.js';

export * from './config-fields.js';
export * from './config-values.js';
export * from './config-flags.js';
/** " (did you mean 'x'?)" when a close candidate exists: @aim/cli's hint, under the name this package exports. */
export { didYouMean as suggestion };

export function presetByName(name: string): Preset {
  const preset = PRESETS[name];
  if (!preset) {
    const names = Object.keys(PRESETS);
    throw new ConfigError(`unknown preset '${name}'${didYouMean(name, names)}; valid presets: ${names.join(', ')}`);
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
