// Append-only JSONL metrics log and the loss-curve plot drawn from it.
import { appendFileSync, readFileSync, existsSync } from 'node:fs';
import { lineChartSvg } from './svg-chart.js';

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

/** Reads a metrics file; a torn last line (from a kill mid-write) is ignored. */
export function readMetrics(path: string): MetricsRecord[] {
  if (!existsSync(path)) return [];
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // only the last line can be torn; skip it
    }
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
    return [...byStep.entries()].sort((a, b) => a[0] - b[0]);
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
