// CLI entry of `nx run eval:probe`: parse flags, pick the backend, run the probes, print where the report went.
import { reserveDecodeThreads } from '@aim/data';
import { selectBackend } from '@aim/model';
import { parseProbeArgs, UsageError } from './cli-args.js';
import { dataResolver } from './data-spec.js';
import { probeCommand } from './probe-command.js';

// Before any asynchronous I/O: libuv sizes the thread pool sharp decodes on when it first starts.
reserveDecodeThreads();

try {
  const args = parseProbeArgs(process.argv.slice(2));
  const backend = await selectBackend(args.backend ?? 'auto');
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const log = (line: string) => console.log(line);
  const { report, outDir } = await probeCommand(args, { resolveData: dataResolver('cache', log), log });
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  console.log(`\n${report.probe} probe on ${report.checkpoint}, blocks ${report.blocks.join(',')}: top-1 ${pct(report.top1)}, top-5 ${pct(report.top5)}`);
  for (const b of report.baselines) console.log(`  baseline ${b.name} (${b.probe}): top-1 ${pct(b.top1)}`);
  console.log(`report: ${outDir}/report.md`);
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `eval:probe failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
