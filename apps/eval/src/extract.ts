// Runs a frozen trunk (bidirectional attention) over in-memory patches and returns the means of chosen blocks' raw
// outputs, on the tfjs model's backend or, given an EngineTarget, on the WebGPU engine (@aim/gpu) with the model's weights.
import * as tf from '@tensorflow/tfjs-core';
import { AimEngine, type GemmTile } from '@aim/gpu';
import type { AimModel } from '@aim/model';
import { gpuTilesLine } from '@aim/train';
import type { LabeledPatches } from './data-source.js';
import { type TokenFeatures, addBlock, finishMean } from './features.js';

/** Where the WebGPU engine computes features: the device, and GEMM tiles tuned on it (`--gpu-tiles`). */
export interface EngineTarget {
  readonly device: GPUDevice;
  readonly gemmTiles?: ReadonlyMap<string, GemmTile>;
  /** Called with each engine built, before it computes (the CLIs log which tuned tiles it uses). */
  readonly onEngine?: (engine: AimEngine) => void;
}

/**
 * The EngineTarget of an eval command on `device` (none without one), logging the --gpu-tiles line: that the file is
 * not used, or, once the first engine exists, how many of its shapes occur in the model.
 */
export function evalEngineTarget(
  device: GPUDevice | undefined,
  gpuTiles: { path: string; tuned: { adapter: string; tiles: ReadonlyMap<string, GemmTile> } } | undefined,
  log: (line: string) => void,
): EngineTarget | undefined {
  if (!device) {
    if (gpuTiles) log(gpuTilesLine(gpuTiles.path, gpuTiles.tuned, false));
    return undefined;
  }
  if (!gpuTiles) return { device };
  let logged = false;
  const onEngine = (engine: AimEngine): void => {
    if (!logged) log(gpuTilesLine(gpuTiles.path, gpuTiles.tuned, true, engine.program.tunedTileKeys.size));
    logged = true;
  };
  return { device, gemmTiles: gpuTiles.tuned.tiles, onEngine };
}

/**
 * One pass of the frozen trunk over `data`, `batchSize` samples at a time: for each block set of `sets`, the mean of
 * its blocks' raw outputs ([N, K, D]; a set of one block is that block's output), in the order given. Memory: the sets'
 * tables and one batch of block outputs, never a full table per block. With `engine`, the WebGPU engine computes them.
 */
export async function extractBlockMeans(
  model: AimModel,
  data: LabeledPatches,
  sets: readonly (readonly number[])[],
  batchSize = 64,
  engine?: EngineTarget,
): Promise<TokenFeatures[]> {
  const { n, tokens, patchDim } = data;
  const D = model.config.width;
  if (sets.some((set) => set.length === 0)) throw new Error('extractBlockMeans: an empty block set');
  const blocks = [...new Set(sets.flat())];
  const out = sets.map(() => new Float32Array(n * tokens * D));
  /** Adds one batch of block outputs (`blocks` order) into each set's table, summing a set's blocks in its order. */
  const accumulate = (start: number, outputs: readonly Float32Array[]): void => {
    const at = start * tokens * D;
    sets.forEach((set, s) => {
      const region = out[s].subarray(at, at + outputs[0].length);
      for (const b of set) addBlock(region, outputs[blocks.indexOf(b)]);
      finishMean(region, set.length);
    });
  };
  const patchesOf = (start: number, size: number) => data.patches.subarray(start * tokens * patchDim, (start + size) * tokens * patchDim);
  if (engine) {
    const gpu = await AimEngine.create(engine.device, model.config, { batch: Math.min(batchSize, n), pretrainHead: false, gemmTiles: engine.gemmTiles });
    try {
      engine.onEngine?.(gpu);
      await loadWeights(gpu, model);
      for (let start = 0; start < n; start += batchSize) {
        const size = Math.min(batchSize, n - start);
        accumulate(start, await gpu.extractFeatures(patchesOf(start, size), { blocks }));
      }
    } finally {
      await gpu.destroy();
    }
  } else {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const feats = tf.tidy(() => model.extractFeatures(tf.tensor3d(patchesOf(start, size), [size, tokens, patchDim]), { blocks })); // blocks x [size, K, D]
      try {
        accumulate(start, await Promise.all(feats.map(async (f) => (await f.data()) as Float32Array)));
      } finally {
        for (const f of feats) f.dispose(); // also when a read fails (e.g. a lost GPU device)
      }
    }
  }
  return out.map((data) => ({ data, n, tokens, dim: D }));
}

/** The model's weights into the engine, one tensor in flight at a time (the host holds the model already). */
export async function loadWeights(engine: AimEngine, model: AimModel): Promise<void> {
  const byName = new Map(model.parameters().map((p) => [p.name, p.variable]));
  await engine.loadTensors('parameters', (name) => byName.get(name)!.dataSync() as Float32Array);
}
