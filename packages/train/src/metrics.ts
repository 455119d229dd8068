// Append-only JSONL metrics log and the loss-curve plot drawn from it.
import { appendFileSync, closeSync, existsSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { lineChartSvg } from '@aim/base/svg';

export interface TrainRecord {
  readonly kind: 'train';
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly imagesPerSecond: number;
  readonly elapsedSeconds: number;
}
export interface ValidationRecord {
  readonly kind: 'val';
  readonly step: number;
  readonly loss: number;
  readonly images: number;
}
export interface EventRecord {
  readonly kind: 'event';
  readonly step: number;
  readonly event: string;
  readonly [key: string]: unknown;
}
export type MetricsRecord = TrainRecord | ValidationRecord | EventRecord;

/** Appends one JSON object per line; synchronous so a crash loses at most the line being written. */
export class MetricsLog {
  constructor(readonly path: string) {}
  append(record: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify({ ...record, time: new Date().toISOString() }) + '\n');
  }
}

/**
 * Reads a metrics file; a torn last line (from a kill mid-write) is ignored. The file is read in chunks of
 * `chunkBytes`, so a long run's log (hundreds of MB at a record per step) never becomes one giant string.
 */
export function readMetrics(path: string, chunkBytes = 1 << 24): MetricsRecord[] {
  if (!existsSync(path)) return [];
  const out: MetricsRecord[] = [];
  const parseLine = (line: string): void => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // only the last line can be torn; skip it
    }
  };
  const fd = openSync(path, 'r');
  try {
    const decoder = new StringDecoder('utf8');
    const buffer = Buffer.alloc(chunkBytes);
    let carry = '';
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const text = carry + decoder.write(buffer.subarray(0, n));
      const lines = text.split('\n');
      carry = lines.pop()!;
      for (const line of lines) parseLine(line);
    }
    parseLine(carry + decoder.end());
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * Train and validation loss against step. A resumed run re-logs steps after its checkpoint, so the latest record
 * of each (kind, step) wins.
 */
export function lossCurveSvg(records: readonly MetricsRecord[], title = 'AIM pretraining loss'): string {
  const latest = (kind: 'train' | 'val'): Array<[number, number]> => {
    const byStep = new Map<number, number>();
    for (const r of records) if (r.kind === kind) byStep.set(r.step, r.loss);
    const points = [...byStep.entries()];
    // Usually already in step order (a resume only re-logs steps that exist); sorting 1M points costs ~1 s.
    for (let i = 1; i < points.length; i++) if (points[i][0] < points[i - 1][0]) return points.sort((a, b) => a[0] - b[0]);
    return points;
  };
  return lineChartSvg({
    title,
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { name: 'train', points: latest('train') },
      { name: 'validation', points: latest('val'), markers: true },
    ],
  });
}
