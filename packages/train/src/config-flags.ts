// The config as command-line flags (--kebab-case names): flag text to checked values, and the help text.
import { didYouMean } from '@aim/cli';
import { CONFIG_FIELDS, DEFAULT_CONFIG, describeSpec, type ConfigField } from './config-fields.js';
import { ConfigError, checkValue, type ConfigValues } from './config-values.js';

const FIELD_BY_FLAG = new Map(CONFIG_FIELDS.map((f) => [f.flag, f]));

/** Parses a flag's text into the field's type (numbers accept 1e-3, 4_096 is not accepted). */
function parseFlagValue(field: ConfigField, text: string): unknown {
  if (field.spec.kind === 'int' || field.spec.kind === 'number') {
    const n = text.trim() === '' ? NaN : Number(text);
    if (Number.isNaN(n)) throw new ConfigError(`flag ${field.flag}: must be ${describeSpec(field.spec)}, got '${text}'`);
    return n;
  }
  return text;
}

/** Flag name -> config field, for CLIs. Throws naming the valid flags. */
export function fieldForFlag(flag: string): ConfigField {
  const field = FIELD_BY_FLAG.get(flag);
  if (!field) {
    const flags = CONFIG_FIELDS.map((f) => f.flag);
    throw new ConfigError(`unknown flag ${flag}${didYouMean(flag, flags)}; valid flags: ${flags.join(' ')}`);
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

/** Help text: every flag with its type and default. */
export function configHelp(): string {
  const width = Math.max(...CONFIG_FIELDS.map((f) => f.flag.length));
  return CONFIG_FIELDS.map((f) => `  ${f.flag.padEnd(width)}  ${f.doc}; ${describeSpec(f.spec)} (default ${JSON.stringify(DEFAULT_CONFIG[f.key])})`).join('\n');
}
