// Checking config values from a config file (JSON) against the fields' types: unknown keys and bad values are errors
// that name the valid choices.
import { readFileSync } from 'node:fs';
import { didYouMean } from '@aim/cli';
import { CONFIG_FIELDS, describeSpec, type ConfigField, type TrainConfig } from './config-fields.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type ConfigValues = Partial<Record<keyof TrainConfig, unknown>>;

const FIELD_BY_KEY = new Map(CONFIG_FIELDS.map((f) => [f.key as string, f]));

/** Checks a typed value (from a file or a flag) against the field's spec; `where` names its origin for errors. */
export function checkValue(field: ConfigField, value: unknown, where: string): TrainConfig[keyof TrainConfig] {
  const { spec } = field;
  const bad = (): never => {
    throw new ConfigError(`${where}: '${field.key}' must be ${describeSpec(spec)}, got ${JSON.stringify(value)}`);
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
          `${where}: '${field.key}' must be ${describeSpec(spec)}, got ${JSON.stringify(value)}` +
            (typeof value === 'string' ? didYouMean(value, spec.values) : ''),
        );
      }
      return value as string;
  }
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
    if (!field) throw new ConfigError(`${where}: unknown key '${key}'${didYouMean(key, keys)}; valid keys: ${keys.join(', ')}`);
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
