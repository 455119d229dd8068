// Runs a frozen trunk (bidirectional attention) over in-memory patches and returns chosen blocks' raw outputs, on the
// tfjs model's backend or, given an EngineTarget, on the WebGPU engine (@aim/gpu) with the model's weights.
import * as tf from '@tensorflow/tfjs-core';
import { AimEngine, type GemmTile } from '@aim/gpu';
import type { AimModel } from '@aim/model';
import { gpuTilesLine } from '@aim/train';
import type { LabeledPatches } from './data-source.js';
import type { TokenFeatures } from './features.js';

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
 * Raw outputs of `blocks` for every sample of `data`, in batches of `batchSize`: one [N, K, D] table per block,
 * in the order given. With `engine`, the WebGPU engine computes them.
 */
export async function extractBlocks(
  model: AimModel,
  data: LabeledPatches,
  blocks: readonly number[],
  batchSize = 64,
  engine?: EngineTarget,
): Promise<TokenFeatures[]> {
  const { n, tokens, patchDim } = data;
  const D = model.config.width;
  const out = blocks.map(() => new Float32Array(n * tokens * D));
  if (engine) {
    await extractOnEngine(engine, model, data, blocks, batchSize, out);
    return out.map((data) => ({ data, n, tokens, dim: D }));
  }
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const feats = tf.tidy(() => {
      const patches = tf.tensor3d(data.patches.subarray(start * tokens * patchDim, (start + size) * tokens * patchDim), [size, tokens, patchDim]);
      return model.extractFeatures(patches, { blocks }); // blocks x [size, K, D]
    });
    try {
      for (let j = 0; j < blocks.length; j++) out[j].set((await feats[j].data()) as Float32Array, start * tokens * D);
    } finally {
      for (const f of feats) f.dispose(); // also when a read fails (e.g. a lost GPU device)
    }
  }
  return out.map((data) => ({ data, n, tokens, dim: D }));
}

/** The model's weights into the engine, one tensor in flight at a time (the host holds the model already). */
export async function loadWeights(engine: AimEngine, model: AimModel): Promise<void> {
  const byName = new Map(model.parameters().map((p) => [p.name, p.variable]));
  await engine.loadTensors('parameters', (name) => byName.get(name)!.dataSync() as Float32Array);
}

/** The engine's trunk (no pretraining head) with the model's weights, batch by batch into `out`. */
async function extractOnEngine(
  target: EngineTarget,
  model: AimModel,
  data: LabeledPatches,
  blocks: readonly number[],
  batchSize: number,
  out: Float32Array[],
): Promise<void> {
  const { n, tokens, patchDim } = data;
  const engine = await AimEngine.create(target.device, model.config, { batch: Math.min(batchSize, n), pretrainHead: false, gemmTiles: target.gemmTiles });
  try {
    target.onEngine?.(engine);
    await loadWeights(engine, model);
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const feats = await engine.extractFeatures(data.patches.subarray(start * tokens * patchDim, (start + size) * tokens * patchDim), { blocks });
      feats.forEach((f, j) => out[j].set(f, start * tokens * model.config.width));
    }
  } finally {
    await engine.destroy();
  }
}
