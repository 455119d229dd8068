// Seeded pseudo-random numbers for reproducible initialisation and prefix sampling (no tfjs RNG state involved).
// References: mulberry32 (Tommy Ettinger); Box-Muller transform; PyTorch nn.init.xavier_uniform_.

function mix32(x: number): number {
  // murmur3 finaliser: spreads every input bit over the whole word.
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A small deterministic generator; equal seeds give equal streams on every platform. */
export class Rng {
  private state: number;

  /** @param seed any safe integer (negative and > 2^32 values are fine: both 32-bit halves are mixed in). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    this.state = mix32(lo ^ mix32(hi ^ 0x9e3779b9));
  }

  /** Uniform 32-bit unsigned integer (mulberry32). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** Exactly uniform integer in [0, n) by rejection (n <= 2^32). */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new Error(`Rng.below: bad bound ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Xavier-uniform values for a weight with the given fans: U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(rng: Rng, size: number, fanIn: number, fanOut: number): Float32Array {
  return uniformValues(rng, size, Math.sqrt(6 / (fanIn + fanOut)));
}

/** Uniform values in [-bound, bound) (PyTorch's default nn.Linear init uses bound = 1 / sqrt(fanIn)). */
export function uniformValues(rng: Rng, size: number, bound: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * bound;
  return out;
}

/** Normal values with the given standard deviation. */
export function normalValues(rng: Rng, size: number, std: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}

/**
 * Prefix lengths for a batch, each uniform on {1, ..., numPatches - 1} and a pure function of `seed`
 * (the trainer derives the seed from the run seed and the step, so resuming needs no RNG state).
 */
export function samplePrefixLengths(batch: number, numPatches: number, seed: number): Int32Array {
  if (!Number.isInteger(batch) || batch <= 0) throw new Error(`samplePrefixLengths: batch must be > 0, got ${batch}`);
  if (!Number.isInteger(numPatches) || numPatches < 2) {
    throw new Error(`samplePrefixLengths: numPatches must be an integer >= 2, got ${numPatches}`);
  }
  const rng = new Rng(seed);
  const out = new Int32Array(batch);
  for (let i = 0; i < batch; i++) out[i] = 1 + rng.below(numPatches - 1);
  return out;
}
