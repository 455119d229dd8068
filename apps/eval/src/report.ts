// The probe report: report.json (machine-readable) and README-style Markdown with SVG pictures.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClassificationMetrics } from './metrics.js';
import { confusionHeatmapSvg } from './heatmap.js';
import { writeFileAtomic } from '@aim/base/atomic-file';
import { lineChartSvg } from '@aim/base/svg';

/** How a probe was trained; written verbatim so that a number can be reproduced. */
export type ProbeRecipe = Readonly<Record<string, string | number | boolean | null | readonly (string | number)[]>>;

export interface Score {
  readonly top1: number;
  readonly top5: number;
}

export interface BaselineResult extends Score {
  /** What was probed, e.g. "random-init trunk" or "raw pixels". */
  readonly name: string;
  readonly probe: string;
  readonly blocks: readonly number[] | null;
}

export interface SweepPoint extends Score {
  readonly block: number;
}

export interface CheckpointPoint extends Score {
  readonly checkpoint: string;
  readonly step: number | null;
  /** The pretraining validation loss recorded with the checkpoint; null when it has none. */
  readonly valLoss: number | null;
}

export interface EvalReport extends Score {
  /** Checkpoint file probed, or `random-init:<variant>`. */
  readonly checkpoint: string;
  readonly probe: string;
  /** 0-based trunk blocks whose raw outputs were averaged. */
  readonly blocks: readonly number[];
  readonly recipe: ProbeRecipe;
  readonly perClass: readonly (number | null)[];
  readonly confusion: readonly (readonly number[])[];
  readonly numSamples: number;
  readonly data: Readonly<Record<string, string | number>>;
  readonly model: Readonly<Record<string, string | number>>;
  readonly baselines: readonly BaselineResult[];
  readonly blockSweep: { readonly probe: string; readonly points: readonly SweepPoint[] } | null;
  readonly checkpoints: readonly CheckpointPoint[];
  /** Names of labels 0..n-1, when known (--class-names, or MNIST's digits). */
  readonly classNames?: readonly string[];
  readonly createdAt: string;
}

export function reportFromMetrics(
  m: ClassificationMetrics,
  rest: Omit<EvalReport, 'top1' | 'top5' | 'perClass' | 'confusion' | 'numSamples' | 'createdAt'>,
): EvalReport {
  return {
    top1: m.top1,
    top5: m.top5,
    perClass: m.perClass,
    confusion: m.confusion,
    numSamples: m.numSamples,
    ...rest,
    createdAt: new Date().toISOString(),
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);

function blockList(blocks: readonly number[] | null): string {
  return blocks === null ? '-' : blocks.join(', ');
}

/** Markdown page of a report; pictures are referenced by file name next to it. */
export function reportMarkdown(r: EvalReport, pictures: { sweep?: string; lossVsAccuracy?: string; confusion: string }): string {
  const lines: string[] = [
    `# Probe report: ${r.probe} probe on ${r.checkpoint}`,
    '',
    `Blocks (0-based, averaged): ${blockList(r.blocks)}. Test samples: ${r.numSamples}. Written ${r.createdAt}.`,
    '',
    '| trunk | probe | blocks | top-1 | top-5 |',
    '|---|---|---|---|---|',
    `| **${r.checkpoint}** | ${r.probe} | ${blockList(r.blocks)} | **${pct(r.top1)}** | ${pct(r.top5)} |`,
    ...r.baselines.map((b) => `| ${b.name} | ${b.probe} | ${blockList(b.blocks)} | ${pct(b.top1)} | ${pct(b.top5)} |`),
    '',
    '## Recipe',
    '',
    '| setting | value |',
    '|---|---|',
    ...Object.entries(r.recipe).map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join(', ') : String(v)} |`),
    '',
    '## Data and model',
    '',
    '| key | value |',
    '|---|---|',
    ...Object.entries({ ...r.data, ...r.model }).map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ];
  if (r.blockSweep && pictures.sweep) {
    lines.push(
      '## Block sweep',
      '',
      `${r.blockSweep.probe} probe on each single block's raw output.`,
      '',
      `![block sweep](${pictures.sweep})`,
      '',
      '| block | top-1 | top-5 |',
      '|---|---|---|',
      ...r.blockSweep.points.map((p) => `| ${p.block} | ${pct(p.top1)} | ${pct(p.top5)} |`),
      '',
    );
  }
  if (r.checkpoints.length > 0) {
    lines.push(
      '## Checkpoints: pretraining validation loss vs probe accuracy',
      '',
      ...(pictures.lossVsAccuracy ? [`![loss vs accuracy](${pictures.lossVsAccuracy})`, ''] : []),
      '| checkpoint | step | validation loss | top-1 | top-5 |',
      '|---|---|---|---|---|',
      ...r.checkpoints.map(
        (c) => `| ${c.checkpoint} | ${c.step ?? '-'} | ${c.valLoss === null ? '-' : c.valLoss.toFixed(4)} | ${pct(c.top1)} | ${pct(c.top5)} |`,
      ),
      '',
    );
  }
  lines.push(
    '## Per-class accuracy',
    '',
    '| class | accuracy |',
    '|---|---|',
    ...r.perClass.map((a, c) => `| ${c} | ${pct(a)} |`),
    '',
    `![confusion matrix](${pictures.confusion})`,
    '',
  );
  return lines.join('\n');
}

/** Writes report.json, report.md and its SVG pictures into `dir`; returns the files written. */
export async function writeReport(dir: string, r: EvalReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {};
  files['report.json'] = JSON.stringify(r, null, 2) + '\n';
  files['confusion.svg'] = confusionHeatmapSvg(r.confusion, { title: `Confusion matrix: ${r.probe} probe, top-1 ${pct(r.top1)}`, classNames: r.classNames });
  const pictures: { sweep?: string; lossVsAccuracy?: string; confusion: string } = { confusion: 'confusion.svg' };
  if (r.blockSweep && r.blockSweep.points.length > 0) {
    files['block-sweep.svg'] = lineChartSvg({
      title: `Block sweep (${r.blockSweep.probe} probe on single blocks)`,
      xLabel: 'block (0-based)',
      yLabel: 'top-1 accuracy (%)',
      series: [{ name: 'top-1', markers: true, points: r.blockSweep.points.map((p) => [p.block, 100 * p.top1] as const) }],
    });
    pictures.sweep = 'block-sweep.svg';
  }
  const withLoss = r.checkpoints.filter((c) => c.valLoss !== null);
  if (withLoss.length > 0) {
    const sorted = [...withLoss].sort((a, b) => a.valLoss! - b.valLoss!);
    files['loss-vs-accuracy.svg'] = lineChartSvg({
      title: `Pretraining validation loss vs ${r.probe} probe top-1`,
      xLabel: 'pretraining validation loss',
      yLabel: 'top-1 accuracy (%)',
      series: [{ name: 'checkpoints', markers: true, points: sorted.map((c) => [c.valLoss!, 100 * c.top1] as const) }],
    });
    pictures.lossVsAccuracy = 'loss-vs-accuracy.svg';
  }
  files['report.md'] = reportMarkdown(r, pictures);
  // Each file whole or not at all: a crash mid-write leaves the previous report's file, never half of one.
  for (const [name, text] of Object.entries(files)) await writeFileAtomic(join(dir, name), text);
  return Object.keys(files).map((n) => join(dir, n));
}
