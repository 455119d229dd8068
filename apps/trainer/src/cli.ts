// Command-line parsing for `nx run trainer:train`: argv -> resolved TrainConfig, with errors naming valid choices.
import {
  ConfigError,
  PRESETS,
  configHelp,
  fieldForFlag,
  flagsToValues,
  readConfigFile,
  resolveConfig,
  type ConfigValues,
  type TrainConfig,
} from '@aim/train';

export type CliCommand =
  | { readonly kind: 'help'; readonly text: string }
  | {
      readonly kind: 'train';
      readonly config: TrainConfig;
      /** Values given as flags (a resumed run applies only these over the checkpoint's config). */
      readonly flags: ConfigValues;
    };

/** Flags that take no value from the next argument when it is absent or another flag. */
const OPTIONAL_VALUE: Readonly<Record<string, string>> = { '--resume': 'latest' };

export function usage(): string {
  const presets = Object.values(PRESETS)
    .map((p) => `  ${p.name.padEnd(9)} ${p.command}\n            prints: ${p.prints}`)
    .join('\n');
  return [
    'usage: npx nx run trainer:train -- [--preset NAME] [--config FILE] [--flag value ...]',
    '',
    'Resolution: defaults, then the preset, then the --config file (JSON, keys as in the printed config), then flags.',
    '',
    'flags:',
    '  --help      this text',
    '  --config    JSON file of settings (a run folder\'s config.json works)',
    configHelp(),
    '',
    'presets:',
    presets,
  ].join('\n');
}

/** Parses argv (without node and script) into a help request or a resolved config. */
export function parseArgs(argv: readonly string[]): CliCommand {
  const flags = new Map<string, string>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { kind: 'help', text: usage() };
    if (!arg.startsWith('--')) {
      throw new ConfigError(`unexpected argument '${arg}': settings are passed as --flag value (see --help)`);
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !(next.startsWith('--') && next.length > 2)) {
        value = next;
        i += 1;
      } else if (flag in OPTIONAL_VALUE) {
        value = OPTIONAL_VALUE[flag];
      }
    }
    if (flag === '--config') {
      if (value === undefined) throw new ConfigError('flag --config needs a file path');
      configFile = value;
      continue;
    }
    fieldForFlag(flag); // unknown flags fail here, naming the valid ones
    if (value === undefined) throw new ConfigError(`flag ${flag} needs a value`);
    if (flags.has(flag)) throw new ConfigError(`flag ${flag} given twice`);
    flags.set(flag, value);
  }
  const values = flagsToValues(flags);
  const config = resolveConfig({ file: configFile ? readConfigFile(configFile) : undefined, flags: values });
  return { kind: 'train', config, flags: values };
}
