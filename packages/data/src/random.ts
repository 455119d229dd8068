// Seeded random choices for augmentation: every draw derives from (seed, epoch, sample key) through @aim/webdataset's
// stable generator, so results do not depend on which worker ran a sample or when.

import { createRng, deriveSeed, shuffleInPlace, type Rng as StreamRng } from '@aim/webdataset';

/** The draws the transforms need, on top of a @aim/webdataset generator. */
export class Rng {
  constructor(private readonly source: StreamRng) {}

  /** Uniform in [0, 1). */
  next(): number {
    return this.source.next();
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.source.next();
  }

  /**
   * A float32 uniform in [low, high) as torch's `torch.empty(1).uniform_(low, high)` computes one from a uniform u in
   * [0, 1) on the CPU: low and high rounded to float32, u * float32(high - low) + low in double, rounded to float32.
   * torchvision draws RandomResizedCrop's area and log-ratio and ColorJitter's factors this way.
   */
  uniformFloat32(low: number, high: number): number {
    const lo = Math.fround(low);
    return Math.fround(this.next() * Math.fround(Math.fround(high) - lo) + lo);
  }

  /** Uniform integer in [low, highExclusive), without modulo bias. */
  int(low: number, highExclusive: number): number {
    if (!(Number.isInteger(low) && Number.isInteger(highExclusive) && highExclusive > low)) {
      throw new RangeError(`Rng.int: need integers low < high, got [${low}, ${highExclusive})`);
    }
    return low + this.source.int(highExclusive - low);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    return shuffleInPlace(Array.from({ length: n }, (_, i) => i), this.source);
  }
}

/** The generator for one (seed, epoch, key) triple; the same triple always gives the same stream. */
export function rngFor(seed: number, epoch: number, key: string): Rng {
  return new Rng(createRng(deriveSeed(seed, epoch, key)));
}
