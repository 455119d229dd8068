// Deterministic 32-bit seeds derived from (run seed, step, micro-batch): resuming needs no saved RNG state.
// References: the murmur3 / splitmix32 finaliser (Appleby; Steele et al.) as the mixing function.

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A well-mixed unsigned 32-bit seed from any list of integers (order matters). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) throw new Error(`deriveSeed: parts must be safe integers, got ${part}`);
    // Fold the high bits in too, so steps above 2^32 still give distinct seeds.
    h = mix32((h ^ (part >>> 0)) + 0x9e3779b9);
    h = mix32((h ^ Math.floor(part / 2 ** 32)) + 0x7f4a7c15);
  }
  return h;
}

/** Stream names keep seeds of different uses apart even for equal (step, micro) numbers. */
export const SEED_STREAM = Object.freeze({ prefix: 1, validationPrefix: 2 });

/** Validation prefix seeds ignore the run seed, so validation losses compare across runs and checkpoints. */
export const validationPrefixSeed = (batchIndex: number): number => deriveSeed(SEED_STREAM.validationPrefix, batchIndex);

/** Prefix-length seed of micro-batch `micro` of optimiser step `step`. */
export const trainPrefixSeed = (runSeed: number, step: number, micro: number): number =>
  deriveSeed(SEED_STREAM.prefix, runSeed, step, micro);
