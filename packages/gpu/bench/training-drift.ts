// Whether a GEMM configuration can train: the same short run (the same start and the same batch at every step) with
// each configuration, its losses beside the first run's and how far its weights end from the first run's. The bench's
// --matrix part runs it for the f16 tiles (dynamic loss scaling) against the f32 tiles: what decides whether training
// may use them.
import type { AimConfig } from '@aim/model/spec';
import { type AdamWHyper, AimEngine, type GemmTile, type MicroBatch } from '../src/index.js';
import { relError } from '../src/harness.js';

export interface TrainingRun {
  readonly gemmTiles?: ReadonlyMap<string, GemmTile>;
  /** The loss scaling of every step: a fixed gradScale, or dynamicScale (see AdamWHyper). */
  readonly scaling: Pick<AdamWHyper, 'gradScale' | 'dynamicScale'>;
}

export interface TensorErrors {
  readonly worst: number;
  readonly worstName: string;
  readonly median: number;
}

export interface TrainingDrift {
  /** Each run's loss at every step it took; a run ends at its first non-finite step (NaN, its update not applied). */
  readonly losses: number[][];
  /** Each run's weights at the end against the first run's (undefined for the first). */
  readonly weights: (TensorErrors | undefined)[];
  /** Each run's steps skipped by dynamic loss scaling (gradient overflow), and its loss scale at the end. */
  readonly skipped: number[];
  readonly lossScales: number[];
}

/** Per tensor, max |got - want| / max |want|: the worst tensor (and its name) and the median over tensors. */
export function tensorErrors(got: ReadonlyMap<string, Float32Array>, want: ReadonlyMap<string, Float32Array>): TensorErrors {
  const errors = [...want].map(([name, w]) => {
    const error = relError(got.get(name)!, w);
    return { name, error: Number.isNaN(error) ? Infinity : error };
  });
  errors.sort((a, b) => a.error - b.error);
  const worst = errors.at(-1)!;
  return { worst: worst.error, worstName: worst.name, median: errors[errors.length >> 1].error };
}

/**
 * Trains `config` from `initial` on `input` with each run's tiles and loss scale. The first run takes at most `steps`
 * steps and as many as fit in `seconds` (at least 2); the others take as many as it did.
 */
export async function trainingDrift(
  device: GPUDevice,
  config: AimConfig,
  o: { batch: number; input: MicroBatch; initial: ReadonlyMap<string, Float32Array>; hyper: AdamWHyper; steps: number; seconds: number },
  runs: readonly TrainingRun[],
): Promise<TrainingDrift> {
  const losses: number[][] = [];
  const weights: (TensorErrors | undefined)[] = [];
  const skipped: number[] = [];
  const lossScales: number[] = [];
  let reference: Map<string, Float32Array> | undefined;
  let steps = o.steps;
  for (const run of runs) {
    const engine = await AimEngine.create(device, config, { batch: o.batch, gemmTiles: run.gemmTiles });
    try {
      engine.setParameters(new Map(o.initial));
      const curve: number[] = [];
      let skips = 0;
      let lossScale = run.scaling.gradScale ?? 1;
      const start = performance.now();
      for (let s = 0; s < steps; s++) {
        if (reference === undefined && s >= 2 && performance.now() - start > o.seconds * 1000) break;
        const stats = await engine.step([o.input], { ...o.hyper, ...run.scaling });
        curve.push(stats.nonFinite ? Number.NaN : stats.loss);
        if (stats.skipped) skips++;
        lossScale = stats.lossScale;
        if (stats.nonFinite) break; // the engine has halted: no later step updates anything
      }
      steps = curve.length;
      losses.push(curve);
      skipped.push(skips);
      lossScales.push(lossScale);
      const params = await engine.readParameters();
      weights.push(reference ? tensorErrors(params, reference) : undefined);
      reference ??= params;
    } finally {
      await engine.destroy();
    }
  }
  return { losses, weights, skipped, lossScales };
}
