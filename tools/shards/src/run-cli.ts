// The aim-shards command line: parse arguments, run a command, report, and return the exit code.
import { parseArgs } from 'node:util';
import { folderToShards } from './from-folder.js';
import { idxToShards } from './from-idx.js';
import { formatBytes, formatReport, inspectShards } from './inspect.js';
import { createProgress, type ProgressSink } from './progress.js';

const USAGE = `aim-shards: make and inspect WebDataset shards

usage:
  aim-shards from-folder <dir> --out <pattern> [--maxcount N] [--maxsize BYTES] [--seed N | --no-shuffle] [--skip-bad]
      images in class subfolders (<dir>/<class>/...jpg|png|webp) -> KEY.<jpg|png|webp> (original bytes),
      KEY.cls (class index, classes in sorted folder order) and KEY.json (source, class, label, width, height)
  aim-shards from-idx <images-idx> <labels-idx> --out <pattern> [--maxcount N] [--limit N] [--key-prefix P]
      MNIST-format IDX files (raw or .gz) -> KEY.png + KEY.cls
  aim-shards inspect <spec>... [--json]
      shards, samples, extension histogram, bytes, and errors (exit code 1 when errors are found)

<pattern> is a printf-style shard path such as out/train-%06d.tar; <spec> is a path or URL with brace ranges,
e.g. 'out/train-{000000..000009}.tar'. Add --quiet to silence progress (stderr).
`;

export interface CliIo {
  stdout: ProgressSink;
  stderr: ProgressSink;
}

class UsageError extends Error {}

function integer(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function needPositionals(positionals: string[], names: string[]): void {
  if (positionals.length !== names.length) {
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(' ')}, got ${positionals.length} argument(s)`);
  }
}

/** Run aim-shards with `argv` (without node and script). Returns the exit code: 0 ok, 1 failed, 2 usage error. */
export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string' },
        maxcount: { type: 'string' },
        maxsize: { type: 'string' },
        seed: { type: 'string' },
        'no-shuffle': { type: 'boolean' },
        'skip-bad': { type: 'boolean' },
        limit: { type: 'string' },
        'key-prefix': { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
      },
    });
    const allowed: Record<string, string[]> = {
      'from-folder': ['out', 'maxcount', 'maxsize', 'seed', 'no-shuffle', 'skip-bad', 'quiet'],
      'from-idx': ['out', 'maxcount', 'limit', 'key-prefix', 'quiet'],
      inspect: ['json', 'quiet'],
    };
    if (!allowed[command]) throw new UsageError(`unknown command ${JSON.stringify(command)}; commands: ${Object.keys(allowed).join(', ')}`);
    for (const flag of Object.keys(values)) {
      if (!allowed[command].includes(flag)) throw new UsageError(`--${flag} does not apply to ${command}`);
    }
    const quiet = values.quiet === true;
    const progressSink: ProgressSink = quiet ? { write: () => undefined } : io.stderr;

    if (command === 'from-idx') {
      needPositionals(positionals, ['images-idx', 'labels-idx']);
      if (!values.out) throw new UsageError('from-idx needs --out <pattern>, e.g. --out out/mnist-train-%06d.tar');
      const progress = createProgress('from-idx', progressSink);
      const result = await idxToShards({
        images: positionals[0],
        labels: positionals[1],
        outPattern: values.out,
        maxCount: integer(values.maxcount, '--maxcount', 1),
        limit: integer(values.limit, '--limit', 0),
        keyPrefix: values['key-prefix'],
        onProgress: progress,
      });
      progress.finish();
      io.stdout.write(`wrote ${result.samples} samples into ${result.shards.length} shard(s)${result.shards.length ? `: ${result.shards[0]} ... ${result.shards.at(-1)}` : ''}\n`);
      return 0;
    }

    if (command === 'from-folder') {
      needPositionals(positionals, ['dir']);
      if (!values.out) throw new UsageError('from-folder needs --out <pattern>, e.g. --out out/train-%06d.tar');
      if (values['no-shuffle'] && values.seed !== undefined) throw new UsageError('use either --seed or --no-shuffle, not both');
      const progress = createProgress('from-folder', progressSink);
      const result = await folderToShards({
        dir: positionals[0],
        outPattern: values.out,
        maxCount: integer(values.maxcount, '--maxcount', 1),
        maxSize: integer(values.maxsize, '--maxsize', 1),
        seed: values['no-shuffle'] ? null : (integer(values.seed, '--seed', 0) ?? 0),
        skipBad: values['skip-bad'] === true,
        onSkip: (path, reason) => io.stderr.write(`skipped ${path}: ${reason}\n`),
        onProgress: progress,
      });
      progress.finish();
      io.stdout.write(
        `wrote ${result.samples} samples of ${result.classes.length} classes into ${result.shards.length} shard(s)` +
          `${result.skipped.length ? `; skipped ${result.skipped.length} bad image(s)` : ''}` +
          `${result.ignored.length ? `; ignored ${result.ignored.length} non-image file(s)` : ''}\n`,
      );
      return 0;
    }

    // inspect
    if (positionals.length === 0) throw new UsageError('inspect needs at least one shard spec');
    const progress = createProgress('inspect', progressSink);
    const report = await inspectShards(positionals, { onProgress: (n) => progress(n) });
    progress.finish();
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
    if (report.errors.length > 0 && !values.json) io.stderr.write(`inspect: ${report.errors.length} error(s) in ${formatBytes(report.bytes)} read\n`);
    return report.errors.length > 0 ? 1 : 0;
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.stderr.write(`aim-shards${command ? ` ${command}` : ''}: ${(error as Error).message}\n`);
    if (usage) io.stderr.write(`run 'aim-shards --help' for usage\n`);
    return usage ? 2 : 1;
  }
}
