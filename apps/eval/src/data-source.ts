// Labelled evaluation data: WebDataset shards -> eval transform (resize, centre crop, normalise) -> patches in memory.
import { createLoader } from '@aim/data';

/** N images as patches [N, K, P] (normalised pixels, MAE layout) with integer labels [N]. */
export interface LabeledPatches {
  readonly patches: Float32Array;
  readonly n: number;
  readonly tokens: number;
  readonly patchDim: number;
  readonly labels: Int32Array;
}

export interface LoadSplitOptions {
  /** Shard spec: brace pattern, list, files or URLs. */
  readonly shards: string | readonly string[];
  /** Spec as the user wrote it, for messages. */
  readonly name: string;
  /** Read at most this many samples (in shard order: the eval transform is deterministic). */
  readonly limit: number;
  readonly imageSize: number;
  readonly patchSize: number;
  /** Member holding the class label; default 'cls'. */
  readonly labelKey?: string;
  readonly workers?: number;
}

/** Reads up to `limit` labelled samples; every sample must carry a label. */
export async function loadSplit(o: LoadSplitOptions): Promise<LabeledPatches> {
  const labelKey = o.labelKey ?? 'cls';
  const loader = createLoader({
    shards: o.shards,
    batchSize: Math.min(256, o.limit),
    imageSize: o.imageSize,
    patchSize: o.patchSize,
    transform: 'eval',
    labelKey,
    epochs: 1,
    shuffleShards: false,
    ordered: true,
    errorPolicy: 'raise',
    workers: o.workers,
  });
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  let tokens = 0;
  let patchDim = 0;
  try {
    for await (const batch of loader) {
      tokens = batch.numPatches;
      patchDim = batch.patchDim;
      const take = Math.min(batch.batchSize, o.limit - labels.length);
      const per = tokens * patchDim;
      for (let i = 0; i < take; i++) {
        const y = batch.labels?.[i] ?? -1;
        if (y < 0) throw new Error(`${o.name}: sample '${batch.keys[i]}' has no integer '${labelKey}' label`);
        labels.push(y);
      }
      chunks.push(batch.patches.subarray(0, take * per));
      if (labels.length >= o.limit) break;
    }
  } finally {
    await loader.close();
  }
  if (labels.length === 0) throw new Error(`${o.name}: no samples read (check the shard spec)`);
  const n = labels.length;
  const patches = new Float32Array(n * tokens * patchDim);
  let off = 0;
  for (const c of chunks) {
    patches.set(c, off);
    off += c.length;
  }
  return { patches, n, tokens, patchDim, labels: Int32Array.from(labels) };
}
