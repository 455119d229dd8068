// Inspect shards: how many shards and samples, which extensions, how many bytes, and every problem found.
import { expandUrls, readSamples, type WdsErrorInfo } from '@aim/webdataset';

export interface InspectReport {
  /** Shard URLs in the spec. */
  shards: number;
  samples: number;
  /** Bytes of member payloads (not counting tar headers). */
  bytes: number;
  /** Samples per shard URL, in spec order (0 for unreadable or empty shards). */
  perShard: { url: string; samples: number }[];
  /** Per extension: how many samples have it and their total bytes. */
  extensions: Record<string, { samples: number; bytes: number }>;
  errors: WdsErrorInfo[];
}

export interface InspectOptions {
  maxMemberSize?: number;
  onProgress?: (samples: number) => void;
}

/** Read every sample of every shard once, collecting counts and errors (reading continues past errors). */
export async function inspectShards(spec: string | string[], options: InspectOptions = {}): Promise<InspectReport> {
  const urls = expandUrls(spec);
  const perShard = new Map<string, number>(urls.map((u) => [u, 0]));
  const extensions: InspectReport['extensions'] = {};
  const errors: WdsErrorInfo[] = [];
  let samples = 0;
  let bytes = 0;
  const read = readSamples(urls, {
    errorPolicy: 'warn',
    onError: (e) => errors.push(e),
    ...(options.maxMemberSize === undefined ? {} : { maxMemberSize: options.maxMemberSize }),
  });
  for await (const sample of read) {
    samples++;
    perShard.set(sample.__url__, (perShard.get(sample.__url__) ?? 0) + 1);
    for (const [ext, value] of Object.entries(sample)) {
      if (ext.startsWith('__')) continue;
      const size = typeof value === 'string' ? Buffer.byteLength(value) : value.length;
      const entry = (extensions[ext] ??= { samples: 0, bytes: 0 });
      entry.samples++;
      entry.bytes += size;
      bytes += size;
    }
    options.onProgress?.(samples);
  }
  return { shards: urls.length, samples, bytes, perShard: [...perShard].map(([url, n]) => ({ url, samples: n })), extensions, errors };
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Human-readable report. */
export function formatReport(report: InspectReport): string {
  const counts = report.perShard.map((s) => s.samples);
  const badShards = new Set(report.errors.map((e) => e.url)).size;
  const lines = [
    `shards:     ${report.shards}${badShards ? ` (${badShards} with errors)` : ''}`,
    `samples:    ${report.samples}${counts.length > 1 ? ` (per shard: min ${Math.min(...counts)}, max ${Math.max(...counts)})` : ''}`,
    `bytes:      ${formatBytes(report.bytes)} of member data`,
    'extensions:',
  ];
  const exts = Object.entries(report.extensions).sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(4, ...exts.map(([e]) => e.length));
  for (const [ext, { samples, bytes }] of exts) {
    lines.push(`  ${ext.padEnd(width)}  ${String(samples).padStart(9)} samples  ${formatBytes(bytes).padStart(9)}`);
  }
  if (exts.length === 0) lines.push('  (none)');
  lines.push(`errors:     ${report.errors.length}`);
  for (const e of report.errors) lines.push(`  ${e.url}${e.key !== undefined ? ` (sample ${JSON.stringify(e.key)})` : ''}: ${e.reason}`);
  return lines.join('\n');
}
