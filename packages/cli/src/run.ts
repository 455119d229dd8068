// How every tool starts and ends: help on stdout (exit 0), a usage error as one line on stderr (exit 2), a failure as
// one line on stderr with its cause (exit 1; the stack only with --verbose).
import { parseCommandLine, UsageError, type CommandLine, type CommandLineSpec } from './parse.js';

export interface CommandIo {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean };
}

export interface CommandDefinition {
  /** How the tool is invoked, for messages: `trainer:train`, `eval:probe`, `aim-shards`. */
  readonly name: string;
  /** The --help text. */
  readonly usage: string | (() => string);
  readonly spec: CommandLineSpec;
  /** Error classes of the tool's own that also mean "the command line is wrong" (exit 2), e.g. a config error. */
  readonly usageErrors?: ReadonlyArray<abstract new (...args: never[]) => Error>;
  /** Runs the command; returns its exit status (default 0). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that returns nothing exits 0
  readonly run: (cli: CommandLine, io: CommandIo) => Promise<number | void>;
}

/** An error's message on one line: its lines joined, the "Error: " prefixes of wrapped causes dropped. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ')
    .replace(/\b(?:Error|TypeError|RangeError): /g, '');
}

/** Parses argv, runs the command and returns the exit status; never throws. */
export async function runCommand(def: CommandDefinition, argv: readonly string[], io: CommandIo = process): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    const cli = parseCommandLine(argv, def.spec);
    if (cli.help) {
      io.stdout.write((typeof def.usage === 'function' ? def.usage() : def.usage).trimEnd() + '\n');
      return 0;
    }
    return (await def.run(cli, io)) ?? 0;
  } catch (err) {
    const usage = err instanceof UsageError || (def.usageErrors ?? []).some((cls) => err instanceof cls);
    if (usage) {
      io.stderr.write(`${def.name}: ${oneLine(err)} (see --help)\n`);
      return 2;
    }
    io.stderr.write(`${def.name}: error: ${oneLine(err)}\n`);
    if (verbose && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return 1;
  }
}

/**
 * The entry point of a tool's main module: runs the command and exits with its status. Exiting explicitly matters:
 * worker pools and the wasm runtime can hold the event loop open after the work is done.
 */
export function main(def: CommandDefinition, argv: readonly string[] = process.argv.slice(2)): void {
  void runCommand(def, argv).then((code) => process.exit(code));
}
