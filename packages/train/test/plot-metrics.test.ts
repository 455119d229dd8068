// JSONL metrics and the loss curve drawn from them: torn lines and resumed steps handled.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsLog, lossCurveSvg, readMetrics, type MetricsRecord } from '../src/index.js';

describe('metrics', () => {
  it('appends records, skips a torn last line, and plots the latest value per step', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aim-metrics-')), 'metrics.jsonl');
    const log = new MetricsLog(path);
    log.append({ kind: 'train', step: 1, loss: 1, lr: 1e-6, gradNorm: 2, imagesPerSecond: 10, elapsedSeconds: 1 });
    log.append({ kind: 'train', step: 2, loss: 0.9, lr: 1e-4, gradNorm: 2, imagesPerSecond: 10, elapsedSeconds: 2 });
    log.append({ kind: 'val', step: 2, loss: 0.95, images: 16 });
    // resumed from step 1: step 2 logged again with a new value
    log.append({ kind: 'train', step: 2, loss: 0.8, lr: 1e-4, gradNorm: 2, imagesPerSecond: 10, elapsedSeconds: 2 });
    appendFileSync(path, '{"kind":"train","st');
    const records = readMetrics(path);
    expect(records).toHaveLength(4);
    const svg = lossCurveSvg(records);
    expect(svg).toContain('<title>train</title>');
    expect(svg).toContain('<title>validation</title>');
    const trainPath = /<path d="([^"]+)"/.exec(svg)![1];
    expect(trainPath.split(/[ML]/).filter(Boolean)).toHaveLength(2);
  });
});

describe('long runs', () => {
  it('draws 1M metrics records (a paper run logged every step) into a small SVG that keeps the envelope', () => {
    const n = 1_000_000;
    const records: MetricsRecord[] = new Array(n);
    for (let i = 0; i < n; i++) {
      // a falling curve with noise, one spike high and one dip low, as a long run's loss looks
      const loss = 2 / Math.sqrt(1 + i / 1000) + 0.05 * Math.sin(i * 0.7) + (i === 400_000 ? 5 : i === 700_000 ? -1 : 0);
      records[i] = { kind: 'train', step: i + 1, loss, lr: 1e-3, gradNorm: 1, imagesPerSecond: 1, elapsedSeconds: i };
    }
    records.push({ kind: 'val', step: n, loss: 0.1, images: 32 });
    const started = performance.now();
    const svg = lossCurveSvg(records);
    const ms = performance.now() - started;
    expect(svg.length).toBeLessThan(200_000);
    const trainPath = /<path d="([^"]+)"/.exec(svg)![1];
    const ys = trainPath
      .split(/[ML]/)
      .filter(Boolean)
      .map((p) => Number(p.trim().split(' ')[1]));
    expect(ys.length).toBeLessThanOrEqual(4 * 630 + 8);
    // the spike and the dip (the extremes of the y axis) survive the thinning: SVG y grows downwards
    const top = 40;
    const bottom = 420 - 55;
    const pad = (bottom - top) * (0.05 / 1.1);
    expect(Math.min(...ys)).toBeCloseTo(top + pad, 1);
    expect(Math.max(...ys)).toBeCloseTo(bottom - pad, 1);
    expect(svg).not.toContain('NaN');
    expect(ms).toBeLessThan(5000);
  });

  it('reads a metrics file across chunk boundaries, multi-byte text included', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'aim-metrics-')), 'metrics.jsonl');
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ kind: 'event', step: i, event: `é${'x'.repeat(i)}` }));
    writeFileSync(path, lines.join('\n') + '\n{"kind":"tr');
    const records = readMetrics(path, 7);
    expect(records).toHaveLength(50);
    expect(records.map((r) => (r as { event: string }).event)).toEqual(lines.map((l) => JSON.parse(l).event));
  });
});
