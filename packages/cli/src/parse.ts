// One flag syntax for every tool: a thin layer over node:util parseArgs that adds what the tools need and parseArgs
// lacks: errors that name the flag, the valid choices and the closest match; `--no-<flag>` for booleans on any Node
// 20; flags whose value may be omitted; `--help` and `--verbose` everywhere.
import { parseArgs } from 'node:util';
import { closestMatch, didYouMean } from './suggest.js';

/** A command-line mistake: printed as one line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = 2;
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** Allowed values of a string flag; anything else is a usage error naming them and the closest one. */
  readonly choices?: readonly string[];
  /** The value a string flag takes when given bare (no `=value`, and the next argument is a flag or absent). */
  readonly bareValue?: string;
  /** Added to the "needs a value" error, e.g. how to say "none" when an empty argument cannot get through. */
  readonly missingValueHint?: string;
}

export interface CommandLineSpec {
  /** Flags by name without dashes, e.g. `'cache-dir'`. `help` and `verbose` are always there. */
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Whether plain arguments are allowed (default false). */
  readonly positionals?: boolean;
  /** Old or other tools' names of a flag -> its name here, suggested when the old name is used. */
  readonly renamed?: Readonly<Record<string, string>>;
}

export interface CommandLine {
  readonly help: boolean;
  readonly verbose: boolean;
  /** Given flags only: strings, or true/false for booleans (`--no-x` gives false). */
  readonly values: Readonly<Record<string, string | boolean>>;
  readonly positionals: readonly string[];
}

const BUILTIN: Readonly<Record<string, FlagSpec>> = { help: { type: 'boolean' }, verbose: { type: 'boolean' } };

const looksLikeFlag = (arg: string | undefined): boolean => arg !== undefined && /^-[-a-zA-Z]/.test(arg) && arg !== '--';

/** Throws a UsageError when `value` is not one of `choices`, naming them and the closest one. */
export function checkChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag}: '${value}' is not one of ${choices.join(', ')}${didYouMean(value, choices)}`);
  }
  return value as T;
}

/**
 * Parses argv (without node and the script). `-h`/`--help` anywhere asks for help and skips every other check,
 * so help always works. Every other problem is a UsageError.
 */
export function parseCommandLine(argv: readonly string[], spec: CommandLineSpec): CommandLine {
  const flags: Record<string, FlagSpec> = { ...spec.flags, ...BUILTIN };
  const names = Object.keys(flags).sort();
  const endOfFlags = argv.indexOf('--');
  const flagArgs = endOfFlags < 0 ? argv : argv.slice(0, endOfFlags);
  if (flagArgs.includes('--help') || flagArgs.includes('-h')) {
    return { help: true, verbose: flagArgs.includes('--verbose'), values: {}, positionals: [] };
  }

  // Our pass: unknown flags, missing values and `--no-x` get our messages; bare values are filled in. parseArgs then
  // does the splitting of what is left.
  const args: string[] = [];
  const negated = new Map<string, false>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (i === endOfFlags) {
      args.push(...argv.slice(i));
      break;
    }
    if (!looksLikeFlag(arg)) {
      args.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      throw new UsageError(`unknown flag ${arg}: flags are spelled --name; valid flags: ${names.map((n) => `--${n}`).join(' ')}`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = flags[name];
    if (!flag) {
      const positive = name.startsWith('no-') ? flags[name.slice(3)] : undefined;
      if (positive?.type === 'boolean' && eq < 0) {
        negated.set(name.slice(3), false);
        continue;
      }
      const best = spec.renamed?.[name] ?? closestMatch(name, names) ?? names.find((n) => n.startsWith(name) || name.startsWith(n));
      throw new UsageError(`unknown flag --${name}${best ? ` (did you mean --${best}?)` : ''}; valid flags: ${names.map((n) => `--${n}`).join(' ')}`);
    }
    if (flag.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`flag --${name} takes no value (got '${arg.slice(eq + 1)}'); use --${name} or --no-${name}`);
      args.push(arg);
      continue;
    }
    if (eq >= 0) {
      args.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || looksLikeFlag(next) || i + 1 === endOfFlags) {
      if (flag.bareValue === undefined) {
        throw new UsageError(
          `flag --${name} needs a value${next === undefined ? '' : ` (got the flag ${next})`}` +
            (flag.choices ? `: one of ${flag.choices.join(', ')}` : '') +
            (flag.missingValueHint ? `; ${flag.missingValueHint}` : ''),
        );
      }
      args.push(`--${name}=${flag.bareValue}`);
      continue;
    }
    args.push(`--${name}=${next}`);
    i += 1;
  }

  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(flags).map(([n, f]) => [n, { type: f.type }])),
      strict: true,
      allowPositionals: spec.positionals ?? false,
    });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    if (/positional/i.test(message)) {
      const stray = args.find((a) => !a.startsWith('--'));
      throw new UsageError(`unexpected argument '${stray ?? '?'}': this command takes only --flags (see --help)`);
    }
    throw new UsageError(message);
  }
  const values: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (name === 'help' || name === 'verbose' || value === undefined) continue;
    values[name] = value as string | boolean;
  }
  for (const [name, value] of negated) {
    if (name in values) throw new UsageError(`--${name} and --no-${name} contradict each other`);
    values[name] = value;
  }
  for (const [name, value] of Object.entries(values)) {
    const choices = flags[name].choices;
    if (choices && typeof value === 'string') checkChoice(name, value, choices);
  }
  return { help: false, verbose: parsed.values.verbose === true, values, positionals: parsed.positionals };
}

/** An integer flag value >= min, or `fallback` when absent. */
export function intFlag(flag: string, value: string | boolean | undefined, fallback: number, min: number): number;
export function intFlag(flag: string, value: string | boolean | undefined, fallback: undefined, min: number): number | undefined;
export function intFlag(flag: string, value: string | boolean | undefined, fallback: number | undefined, min: number): number | undefined {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${flag}: must be an integer >= ${min}, got '${value}'`);
  }
  return n;
}

/** A finite number flag value (> 0, or >= 0 with allowZero), or `fallback` when absent. */
export function numberFlag(flag: string, value: string | boolean | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`--${flag}: must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${value}'`);
  }
  return n;
}
