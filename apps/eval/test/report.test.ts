import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classificationMetrics } from '../src/metrics.js';
import { reportFromMetrics, writeReport } from '../src/report.js';

describe('writeReport', () => {
  it('writes report.json with the required fields, a Markdown page and its SVG pictures', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-report-'));
    try {
      const m = classificationMetrics({ scores: new Float32Array([2, 1, 0, 0, 1, 2, 0, 2, 1]), numClasses: 3 }, [0, 2, 2]);
      const report = reportFromMetrics(m, {
        checkpoint: 'runs/x/checkpoints/step-00000600',
        probe: 'attentive',
        blocks: [2, 3],
        recipe: { optimizer: 'AdamW', lr: 1e-3, epochs: 20 },
        data: { train: 'mnist:train', test: 'mnist:test' },
        model: { variant: 'aim-tiny' },
        baselines: [{ name: 'random-init trunk', probe: 'attentive', blocks: [2, 3], top1: 0.2, top5: 1 }],
        blockSweep: { probe: 'attentive', points: [0, 1, 2, 3].map((block) => ({ block, top1: 0.1 * block, top5: 1 })) },
        checkpoints: [
          { checkpoint: 'a', step: 200, valLoss: 0.8, top1: 0.5, top5: 1 },
          { checkpoint: 'b', step: 400, valLoss: 0.6, top1: 0.6, top5: 1 },
        ],
      });
      const files = await writeReport(dir, report);
      expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual([
        'block-sweep.svg',
        'confusion.svg',
        'loss-vs-accuracy.svg',
        'report.json',
        'report.md',
      ]);
      const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
      expect(json.top1).toBeCloseTo(2 / 3);
      expect(json.top5).toBe(1);
      expect(json.probe).toBe('attentive');
      expect(json.blocks).toEqual([2, 3]);
      expect(json.checkpoint).toBe('runs/x/checkpoints/step-00000600');
      expect(json.recipe.optimizer).toBe('AdamW');
      expect(json.perClass).toEqual([1, null, 0.5]);
      expect(json.confusion).toEqual([
        [1, 0, 0],
        [0, 0, 0],
        [0, 1, 1],
      ]);
      const md = await readFile(join(dir, 'report.md'), 'utf8');
      expect(md).toContain('| random-init trunk | attentive | 2, 3 | 20.00% | 100.00% |');
      expect(md).toContain('![block sweep](block-sweep.svg)');
      expect(md).toContain('![loss vs accuracy](loss-vs-accuracy.svg)');
      expect(md).toContain('![confusion matrix](confusion.svg)');
      expect(await readFile(join(dir, 'loss-vs-accuracy.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<circle[\s\S]*<\/svg>\n$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
