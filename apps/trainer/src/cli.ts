// Command-line parsing for `nx run trainer:train`: argv -> resolved TrainConfig, in @aim/cli's dialect.
import { UsageError, parseCommandLine, type CommandLine, type FlagSpec } from '@aim/cli';
import { CONFIG_FIELDS, PRESETS, configHelp, flagsToValues, readConfigFile, resolveConfig, type ConfigValues, type TrainConfig } from '@aim/train';

export type CliCommand =
  | { readonly kind: 'help'; readonly text: string }
  | {
      readonly kind: 'train';
      readonly config: TrainConfig;
      /** Values given as flags (a resumed run applies only these over the checkpoint's config). */
      readonly flags: ConfigValues;
    };

/** Every flag of trainer:train: one per config field, plus --config and --no-val. */
export const TRAIN_FLAGS: Readonly<Record<string, FlagSpec>> = Object.freeze({
  config: { type: 'string' },
  // Only `--no-val` is meaningful: nx drops empty arguments, so `--val-data ''` cannot say "no validation" through it.
  val: { type: 'boolean' },
  ...Object.fromEntries(
    CONFIG_FIELDS.map((f) => [
      f.flag.slice(2),
      {
        type: 'string',
        ...(f.spec.kind === 'enum' ? { choices: f.spec.values } : {}),
        ...(f.key === 'resume' ? { bareValue: 'latest' } : {}),
        ...(f.key === 'valData' ? { missingValueHint: "for no validation use --no-val (nx drops an empty '')" } : {}),
      } satisfies FlagSpec,
    ]),
  ),
});

export function usage(): string {
  const presets = Object.values(PRESETS)
    .map((p) => `  ${p.name.padEnd(9)} ${p.command}\n            prints: ${p.prints}`)
    .join('\n');
  return [
    'usage: npx nx run trainer:train -- [--preset NAME] [--config FILE] [--flag value ...]',
    '',
    'Resolution: defaults, then the preset, then the --config file (JSON, keys as in the printed config), then flags.',
    'Progress and messages go to stderr; the final summary to stdout. Exit status: 0 done or stopped, 1 failed, 2 usage.',
    '',
    'flags:',
    '  --help      this text',
    '  --verbose   print the stack of an unexpected failure',
    "  --config    JSON file of settings (a run folder's config.json works)",
    '  --no-val    no validation (the same as --val-data= ; an empty argument does not survive nx)',
    configHelp(),
    '',
    'presets:',
    presets,
  ].join('\n');
}

/** A parsed command line -> a help request or a resolved config. Value errors are ConfigErrors naming the valid choices. */
export function commandFromCli(cli: CommandLine): CliCommand {
  if (cli.help) return { kind: 'help', text: usage() };
  const flags = new Map<string, string>();
  for (const [name, value] of Object.entries(cli.values)) {
    if (name === 'config' || name === 'val') continue;
    flags.set(`--${name}`, value as string);
  }
  if (cli.values.val === true) {
    throw new UsageError('--val is not a flag by itself: --no-val turns validation off, --val-data SPEC chooses the data');
  }
  if (cli.values.val === false) {
    if (flags.has('--val-data')) throw new UsageError('--no-val and --val-data contradict each other');
    flags.set('--val-data', '');
  }
  const configFile = cli.values.config as string | undefined;
  const values = flagsToValues(flags);
  const config = resolveConfig({ file: configFile !== undefined ? readConfigFile(configFile) : undefined, flags: values });
  return { kind: 'train', config, flags: values };
}

/** Parses argv (without node and script) into a help request or a resolved config. */
export function parseArgs(argv: readonly string[]): CliCommand {
  return commandFromCli(parseCommandLine(argv, { flags: TRAIN_FLAGS }));
}
