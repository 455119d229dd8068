// Deterministic 32-bit seeds derived from (run seed, step, micro-batch): resuming needs no saved RNG state.
import { seedFromParts } from '@aim/base/random';

/** This package's name for @aim/base's seed mixer: a well-mixed 32-bit seed from a list of safe integers. */
export { seedFromParts as deriveSeed };

/** Stream names keep seeds of different uses apart even for equal (step, micro) numbers. */
export const SEED_STREAM = Object.freeze({ prefix: 1, validationPrefix: 2 });

/** Validation prefix seeds ignore the run seed, so validation losses compare across runs and checkpoints. */
export const validationPrefixSeed = (batchIndex: number): number => seedFromParts(SEED_STREAM.validationPrefix, batchIndex);

/** Prefix-length seed of micro-batch `micro` of optimiser step `step`. */
export const trainPrefixSeed = (runSeed: number, step: number, micro: number): number => seedFromParts(SEED_STREAM.prefix, runSeed, step, micro);
