// CLI entry of `nx run eval:probe`: parse flags, pick the backend, run the probes, print where the report went.
// Progress goes to stderr, the result to stdout (the @aim/cli dialect).
import { main, type CommandDefinition } from '@aim/cli';
import { reserveDecodeThreads } from '@aim/data';
import { ConfigError, openGpuTiles, selectCompute } from '@aim/train';
import { PROBE_FLAGS, PROBE_RENAMED, PROBE_USAGE, probeArgsFromCli } from './cli-args.js';
import { dataResolver } from './data-spec.js';
import { evalEngineTarget } from './extract.js';
import { probeCommand } from './probe-command.js';

// Before any asynchronous I/O: libuv sizes the thread pool sharp decodes on when it first starts.
reserveDecodeThreads();

export const PROBE_COMMAND: CommandDefinition = {
  name: 'eval:probe',
  usage: PROBE_USAGE,
  spec: { flags: PROBE_FLAGS, renamed: PROBE_RENAMED },
  usageErrors: [ConfigError],
  run: async (cli, io) => {
    const args = probeArgsFromCli(cli);
    const log = (line: string) => io.stderr.write(line + '\n');
    const gpuTiles = openGpuTiles(args.gpuTiles, args.cacheDir, log); // a bad file is a usage error, before anything runs
    const compute = await selectCompute(args.backend ?? 'auto', { boundsChecks: args.gpuBoundsChecks });
    log(`backend: ${compute.backend} (${compute.reason})`);
    const engine = evalEngineTarget(compute, gpuTiles, log);
    let result;
    try {
      result = await probeCommand(args, { resolveData: dataResolver(args.cacheDir, log), log, engine });
    } finally {
      compute.device?.destroy(); // before exit: Dawn tearing down live objects at process exit can crash
    }
    const { report, outDir } = result;
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    const lines = [`${report.probe} probe on ${report.checkpoint}, blocks ${report.blocks.join(',')}: top-1 ${pct(report.top1)}, top-5 ${pct(report.top5)}`];
    for (const b of report.baselines) lines.push(`  baseline ${b.name} (${b.probe}): top-1 ${pct(b.top1)}`);
    lines.push(`report: ${outDir}/report.md`);
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};

main(PROBE_COMMAND);
