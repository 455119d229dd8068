// Runs a frozen trunk (bidirectional attention) over in-memory patches and returns chosen blocks' raw outputs.
import * as tf from '@tensorflow/tfjs-core';
import type { AimModel } from '@aim/model';
import type { LabeledPatches } from './data-source.js';
import type { TokenFeatures } from './features.js';

/**
 * Raw outputs of `blocks` for every sample of `data`, in batches of `batchSize`: one [N, K, D] table per block,
 * in the order given.
 */
export async function extractBlocks(model: AimModel, data: LabeledPatches, blocks: readonly number[], batchSize = 64): Promise<TokenFeatures[]> {
  const { n, tokens, patchDim } = data;
  const D = model.config.width;
  const out = blocks.map(() => new Float32Array(n * tokens * D));
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
