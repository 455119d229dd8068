// The prefix lengths of prefix-causal attention, drawn from the seeded generator as a pure function of a seed.
import { Mulberry32 } from '@aim/base/random';

/**
 * Prefix lengths for a batch, each uniform on {1, ..., numPatches - 1} and a pure function of `seed`
 * (the trainer derives the seed from the run seed and the step, so resuming needs no RNG state).
 */
export function samplePrefixLengths(batch: number, numPatches: number, seed: number): Int32Array {
  if (!Number.isInteger(batch) || batch <= 0) throw new Error(`samplePrefixLengths: batch must be > 0, got ${batch}`);
  if (!Number.isInteger(numPatches) || numPatches < 2) {
    throw new Error(`samplePrefixLengths: numPatches must be an integer >= 2, got ${numPatches}`);
  }
  const rng = new Mulberry32(seed);
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) out[i] = 1 + rng.below(numPatches - 1);
  return out;
}
