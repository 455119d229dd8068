// Runs a frozen trunk (bidirectional attention) over in-memory patches and returns the means of chosen blocks' raw
// outputs, on the tfjs model's backend or, given an EngineTarget, on the WebGPU engine (@aim/gpu) with the model's weights.
import * as tf from '@tensorflow/tfjs-core';
import { AimEngine, describeEngine } from '@aim/gpu';
import type { AimConfig, AimModel } from '@aim/model';
import { type ComputeSelection, type GpuTiles, engineDeviceOf } from '@aim/train';
import type { LabeledPatches } from './data-source.js';
import { type TokenFeatures, addBlock, finishMean } from './features.js';

/** Where the WebGPU engine computes features: its device, with the command's --gpu-tiles. */
export interface EngineTarget {
  /** A feature engine (the trunk only) for `config` at micro-batch `batch`; the caller destroys it. */
  createEngine(config: AimConfig, batch: number): Promise<AimEngine>;
}

/**
 * The EngineTarget of an eval command (none when the engine does not compute), logging the --gpu-tiles line: that
 * the flag is not used, or, with the first engine, which tiles it runs.
 */
export function evalEngineTarget(compute: ComputeSelection, gpuTiles: GpuTiles | undefined, log: (line: string) => void): EngineTarget | undefined {
  const on = engineDeviceOf(compute);
  if (!on) {
    if (gpuTiles) log(gpuTiles.unusedLine());
    return undefined;
  }
  let logged = false;
  return {
    async createEngine(config, batch) {
      const options = { batch, pretrainHead: false, maxBindingBytes: on.device.limits.maxStorageBufferBindingSize };
      const gemmTiles = await gpuTiles?.tilesFor(on, describeEngine(config, options).gemmShapes);
      const engine = await AimEngine.create(on.device, config, { ...options, gemmTiles });
      if (gpuTiles && !logged) log(gpuTiles.usedLine(engine));
      logged = true;
      return engine;
    },
  };
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
    const gpu = await engine.createEngine(model.config, Math.min(batchSize, n));
    try {
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
