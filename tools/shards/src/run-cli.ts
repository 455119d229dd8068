// The aim-shards command line: parse arguments, run a command, report, and return the exit code.
import { UsageError, didYouMean, intFlag, runCommand, type CommandIo, type CommandLine, type CommandLineSpec, type FlagSpec } from '@aim/cli';
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
e.g. 'out/train-{000000..000009}.tar'. Progress goes to stderr (--quiet silences it), results to stdout.
Exit status: 0 ok, 1 failed or errors found (--verbose: with the stack), 2 usage error.
`;

export type CliIo = CommandIo;

function needPositionals(positionals: readonly string[], names: string[]): void {
  if (positionals.length !== names.length) {
    throw new UsageError(`expected ${names.map((n) => `<${n}>`).join(' ')}, got ${positionals.length} argument(s)`);
  }
}

const quiet: FlagSpec = { type: 'boolean' };

type Subcommand = { readonly spec: CommandLineSpec; readonly run: (cli: CommandLine, io: CommandIo) => Promise<number> };

const progressSink = (cli: CommandLine, io: CommandIo): ProgressSink => (cli.values.quiet === true ? { write: () => undefined } : io.stderr);

const COMMANDS: Readonly<Record<string, Subcommand>> = {
  'from-folder': {
    spec: {
      flags: {
        out: { type: 'string' },
        maxcount: { type: 'string' },
        maxsize: { type: 'string' },
        seed: { type: 'string' },
        shuffle: { type: 'boolean' },
        'skip-bad': { type: 'boolean' },
        quiet,
      },
      positionals: true,
    },
    async run(cli, io) {
      const values = cli.values as Record<string, string | boolean | undefined>;
      needPositionals(cli.positionals, ['dir']);
      if (!values.out) throw new UsageError('from-folder needs --out <pattern>, e.g. --out out/train-%06d.tar');
      if (values.shuffle === false && values.seed !== undefined) throw new UsageError('use either --seed or --no-shuffle, not both');
      const progress = createProgress('from-folder', progressSink(cli, io));
      const result = await folderToShards({
        dir: cli.positionals[0],
        outPattern: values.out as string,
        maxCount: intFlag('maxcount', values.maxcount, undefined, 1),
        maxSize: intFlag('maxsize', values.maxsize, undefined, 1),
        seed: values.shuffle === false ? null : intFlag('seed', values.seed, 0, 0),
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
    },
  },
  'from-idx': {
    spec: {
      flags: { out: { type: 'string' }, maxcount: { type: 'string' }, limit: { type: 'string' }, 'key-prefix': { type: 'string' }, quiet },
      positionals: true,
    },
    async run(cli, io) {
      const values = cli.values as Record<string, string | boolean | undefined>;
      needPositionals(cli.positionals, ['images-idx', 'labels-idx']);
      if (!values.out) throw new UsageError('from-idx needs --out <pattern>, e.g. --out out/mnist-train-%06d.tar');
      const progress = createProgress('from-idx', progressSink(cli, io));
      const result = await idxToShards({
        images: cli.positionals[0],
        labels: cli.positionals[1],
        outPattern: values.out as string,
        maxCount: intFlag('maxcount', values.maxcount, undefined, 1),
        limit: intFlag('limit', values.limit, undefined, 0),
        keyPrefix: values['key-prefix'] as string | undefined,
        onProgress: progress,
      });
      progress.finish();
      io.stdout.write(
        `wrote ${result.samples} samples into ${result.shards.length} shard(s)${result.shards.length ? `: ${result.shards[0]} ... ${result.shards.at(-1)}` : ''}\n`,
      );
      return 0;
    },
  },
  inspect: {
    spec: { flags: { json: { type: 'boolean' }, quiet }, positionals: true },
    async run(cli, io) {
      if (cli.positionals.length === 0) throw new UsageError('inspect needs at least one shard spec');
      const progress = createProgress('inspect', progressSink(cli, io));
      const report = await inspectShards([...cli.positionals], { onProgress: (n) => progress(n) });
      progress.finish();
      io.stdout.write(cli.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
      if (report.errors.length > 0 && !cli.values.json) io.stderr.write(`inspect: ${report.errors.length} error(s) in ${formatBytes(report.bytes)} read\n`);
      return report.errors.length > 0 ? 1 : 0;
    },
  },
};

const NAMES = Object.keys(COMMANDS);

/** Run aim-shards with `argv` (without node and script). Returns the exit code: 0 ok, 1 failed, 2 usage error. */
export async function runCli(argv: readonly string[], io: CliIo = process): Promise<number> {
  const [command, ...rest] = argv;
  const sub = command === undefined ? undefined : COMMANDS[command];
  if (sub) return runCommand({ name: `aim-shards ${command}`, usage: USAGE, spec: sub.spec, run: sub.run }, rest, io);
  return runCommand(
    {
      name: 'aim-shards',
      usage: USAGE,
      spec: { flags: {}, positionals: true },
      run: async () => {
        if (command === undefined) throw new UsageError(`missing command: one of ${NAMES.join(', ')}`);
        if (command === 'help') {
          io.stdout.write(USAGE);
          return 0;
        }
        throw new UsageError(`unknown command '${command}'${didYouMean(command, NAMES)}; commands: ${NAMES.join(', ')}`);
      },
    },
    argv,
    io,
  );
}
