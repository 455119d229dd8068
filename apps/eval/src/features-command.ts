// eval:features: runs a checkpoint's frozen trunk (bidirectional) on an input batch and writes every block's raw
// output, plus the attentive probe's logits when the checkpoint holds a probe head.
// References: apple/ml-aim aim-v1 (the reference this output is compared with).
import * as tf from '@tensorflow/tfjs-core';
import type { AimEngine } from '@aim/gpu';
import { loadAimCheckpoint, readSafetensors, tensorEntry, writeSafetensors, type SafetensorsWriteEntry } from '@aim/model';
import type { FeaturesArgs } from './cli-args.js';
import { type EngineTarget, loadWeights } from './extract.js';

/** Metadata key under which probe checkpoints written by eval:probe record the blocks the probe averages. */
export const PROBE_BLOCKS_METADATA_KEY = 'aim.probe_blocks';

/** Images per forward pass, so a large input never needs all activations at once. */
const CHUNK = 64;

/** Reads the `input` tensor [B, 3, H, W] of a safetensors file as float32. */
async function readInput(path: string, imageSize: number): Promise<tf.Tensor4D> {
  const file = await readSafetensors(path);
  try {
    const info = file.tensors.get('input');
    if (!info) throw new Error(`--input ${path}: no tensor named 'input' (found: ${[...file.tensors.keys()].join(', ') || 'none'})`);
    const [b, c, h, w] = info.shape;
    if (info.shape.length !== 4 || c !== 3 || h !== imageSize || w !== imageSize) {
      throw new Error(`--input ${path}: 'input' has shape [${info.shape}], the checkpoint needs [B, 3, ${imageSize}, ${imageSize}]`);
    }
    return tf.tensor4d(await file.readFloat32('input'), [b, c, h, w]);
  } finally {
    await file.close();
  }
}

/** The blocks a checkpoint's probe head reads: recorded by eval:probe, else the config's `last` blocks. */
export function probeBlocksOf(metadata: Readonly<Record<string, string>>, fallback: readonly number[]): number[] {
  const raw = metadata[PROBE_BLOCKS_METADATA_KEY];
  if (raw === undefined) return [...fallback];
  const parsed = JSON.parse(raw) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((b) => Number.isInteger(b))) {
    throw new Error(`metadata '${PROBE_BLOCKS_METADATA_KEY}' must be a JSON list of block indices, got ${raw}`);
  }
  return parsed as number[];
}

export interface FeaturesOutput {
  /** features.i for every block i, each [B, K, D]. */
  readonly features: tf.Tensor3D[];
  /** [B, C] when the checkpoint has a probe head. */
  readonly logits: tf.Tensor2D | null;
  readonly probeBlocks: number[] | null;
}

/**
 * Computes the features (and logits) of `args.input`; the caller disposes the returned tensors. With `target`, the
 * WebGPU engine computes the trunk's features (the probe head runs on the tfjs backend).
 */
export async function computeFeatures(args: Pick<FeaturesArgs, 'checkpoint' | 'input'>, target?: EngineTarget): Promise<FeaturesOutput> {
  const { model, probe, metadata } = await loadAimCheckpoint(args.checkpoint, { allowPrefixes: ['optimizer.', 'linear_probe.'] });
  let engine: AimEngine | undefined;
  try {
    const images = await readInput(args.input, model.config.imageSize);
    const allBlocks = Array.from({ length: model.config.depth }, (_, i) => i);
    const probeBlocks = probe ? probeBlocksOf(metadata, model.config.probeBlocks.last) : null;
    const perChunk: tf.Tensor3D[][] = [];
    const logitChunks: tf.Tensor2D[] = [];
    try {
      const b = images.shape[0];
      if (target) {
        engine = await target.createEngine(model.config, Math.min(CHUNK, b));
        await loadWeights(engine, model);
      }
      for (let start = 0; start < b; start += CHUNK) {
        const size = Math.min(CHUNK, b - start);
        const patches = tf.tidy(() => model.patchify(tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]))); // [b, K, P]
        let feats: tf.Tensor3D[]; // depth x [b, K, D]
        try {
          if (engine) {
            const [, k] = patches.shape;
            const values = await engine.extractFeatures((await patches.data()) as Float32Array, { blocks: allBlocks });
            feats = values.map((v) => tf.tensor3d(v, [size, k, model.config.width]));
          } else {
            feats = tf.tidy(() => model.extractFeatures(patches, { blocks: allBlocks }));
          }
        } finally {
          patches.dispose();
        }
        perChunk.push(feats);
        if (probe && probeBlocks) {
          logitChunks.push(
            tf.tidy(() => {
              const pooled = tf.div(tf.addN(probeBlocks.map((i) => feats[i])), probeBlocks.length) as tf.Tensor3D; // [b, K, D]
              return probe.forward(pooled, 'eval');
            }),
          );
        }
      }
    } catch (err) {
      for (const t of [...perChunk.flat(), ...logitChunks]) t.dispose(); // nothing half-made outlives a failure
      throw err;
    } finally {
      images.dispose();
    }
    const concat = <T extends tf.Tensor>(parts: T[]): T => {
      if (parts.length === 1) return parts[0];
      const out = tf.concat(parts, 0) as T;
      for (const p of parts) p.dispose();
      return out;
    };
    const features = allBlocks.map((i) => concat(perChunk.map((c) => c[i])));
    const logits = probe ? concat(logitChunks) : null;
    return { features, logits, probeBlocks };
  } finally {
    await engine?.destroy();
    model.dispose();
    probe?.dispose();
  }
}

/** eval:features: writes features.i (and logits) to `args.out`; returns the tensor names written. */
export async function featuresCommand(args: FeaturesArgs, engine?: EngineTarget): Promise<string[]> {
  const out = await computeFeatures(args, engine);
  try {
    const entries: SafetensorsWriteEntry[] = out.features.map((f, i) => tensorEntry(`features.${i}`, f));
    if (out.logits) entries.push(tensorEntry('logits', out.logits));
    const metadata: Record<string, string> = { checkpoint: args.checkpoint, input: args.input };
    if (out.probeBlocks) metadata[PROBE_BLOCKS_METADATA_KEY] = JSON.stringify(out.probeBlocks);
    await writeSafetensors(args.out, entries, metadata);
    return entries.map((e) => e.name);
  } finally {
    for (const f of out.features) f.dispose();
    out.logits?.dispose();
  }
}
