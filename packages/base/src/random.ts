// Seeded, platform-independent random numbers: every generator and seed-mixing function of AIM-TS lives here, so
// there is one copy of each. No imports, so browser code (the WebGPU engine, the web page) can use it as well.
// References: sfc32 (Chris Doty-Humphrey, PractRand); splitmix32 seeding; MurmurHash3 (Austin Appleby);
// mulberry32 (Tommy Ettinger); Box-Muller transform.
//
// STABILITY CONTRACT: the sequences produced here are pinned by tests and baked into experiments and checkpoints
// (shard and sample order, every augmentation, weight initialisation, prefix lengths, per-step seeds). Changing any
// constant or step below changes all of them. Do not change them; add a new generator instead.

const TWO_POW_32 = 4294967296;

/** MurmurHash3's 32-bit finaliser (fmix32): every input bit affects every output bit. Returns an unsigned integer. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------------
// sfc32: shard and sample shuffling (@aim/webdataset) and per-sample augmentation (@aim/data).

/** A deterministic pseudo-random generator. */
export interface Rng {
  /** Next 32-bit unsigned integer, uniform on [0, 2^32). */
  uint32(): number;
  /** Next float, uniform on [0, 1) (32 bits of resolution). */
  next(): number;
  /** Next integer, uniform on [0, n) for 1 <= n <= 2^32 (rejection sampling, no modulo bias). */
  int(n: number): number;
}

/**
 * Create a generator from a seed (any finite number; it is reduced to 32 bits with `>>> 0`, so use integers).
 * Algorithm: sfc32 whose state (a, b, c) comes from splitmix32(seed) and d = 1, then 12 warm-up rounds.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new TypeError(`createRng: seed must be a finite number, got ${seed}`);
  // splitmix32: three well-mixed state words from one 32-bit seed.
  let s = seed >>> 0;
  const words: number[] = [];
  for (let i = 0; i < 3; i++) {
    s = (s + 0x9e3779b9) | 0;
    words.push(mix32(s));
  }
  let a = words[0] | 0;
  let b = words[1] | 0;
  let c = words[2] | 0;
  let d = 1;
  const uint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) uint32();
  return {
    uint32,
    next: () => uint32() / TWO_POW_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
        throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
      }
      return belowByRejection(uint32, n);
    },
  };
}

/** Uniform on [0, n): accepts only draws below the largest multiple of n, so every residue is equally likely. */
function belowByRejection(uint32: () => number, n: number): number {
  const limit = TWO_POW_32 - (TWO_POW_32 % n);
  for (;;) {
    const x = uint32();
    if (x < limit) return x % n;
  }
}

// TextEncoder is in every browser and in Node, but not in the ES library's types, which is all that some of the
// projects compiling this file see (@aim/gpu's build checks that the WebGPU engine needs nothing more), so the one
// use here is typed locally.
declare const TextEncoder: new () => { encode(input: string): Uint8Array };
// Made on first use, so a bundle that never derives a seed from a key leaves it out (a top-level `new` is kept).
let utf8: InstanceType<typeof TextEncoder> | undefined;

/** MurmurHash3 (x86_32) of bytes with a seed; an unsigned 32-bit integer. */
export function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const j = i * 4;
    let k = bytes[j] | (bytes[j + 1] << 8) | (bytes[j + 2] << 16) | (bytes[j + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = bytes[tail];
    if (rest > 1) k ^= bytes[tail + 1] << 8;
    if (rest > 2) k ^= bytes[tail + 2] << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  return mix32(h);
}

/**
 * Derive an independent 32-bit seed from (seed, epoch, key), e.g. (runSeed, epoch, sample.__key__).
 * Algorithm: murmur3_32(utf8(key), seed = fmix32(fmix32(seed >>> 0) ^ (epoch >>> 0) * 0x9e3779b1)).
 * Same inputs give the same seed on every platform; feed the result to {@link createRng}.
 */
export function deriveSeed(seed: number, epoch: number, key: string): number {
  if (!Number.isFinite(seed) || !Number.isFinite(epoch)) {
    throw new TypeError(`deriveSeed: seed and epoch must be finite numbers, got ${seed}, ${epoch}`);
  }
  const mixed = mix32(mix32(seed >>> 0) ^ Math.imul(epoch >>> 0, 0x9e3779b1));
  utf8 ??= new TextEncoder();
  return murmur3(utf8.encode(key), mixed);
}

/** Fisher-Yates shuffle in place with the given generator; returns the array. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/**
 * The draws image augmentation needs (ranges, float32 uniforms, permutations), on top of an sfc32 {@link Rng}.
 * @aim/data exports it as `Rng`.
 */
export class Random {
  constructor(private readonly source: Rng) {}

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
    return shuffleInPlace(
      Array.from({ length: n }, (_, i) => i),
      this.source,
    );
  }
}

/** The {@link Random} for one (seed, epoch, key) triple; the same triple always gives the same stream. */
export function randomFor(seed: number, epoch: number, key: string): Random {
  return new Random(createRng(deriveSeed(seed, epoch, key)));
}

// ---------------------------------------------------------------------------------------------------------------
// mulberry32: weight initialisation and prefix lengths (@aim/model), probe epochs (apps/eval).

/** A small deterministic generator; equal seeds give equal streams on every platform. @aim/model exports it as `Rng`. */
export class Mulberry32 {
  private state: number;

  /** @param seed any safe integer (negative and > 2^32 values are fine: both 32-bit halves are mixed in). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    this.state = mix32(lo ^ mix32(hi ^ 0x9e3779b9));
  }

  /**
   * A generator whose state is `state >>> 0` as given, without the constructor's mixing: the stream that callers
   * which seeded mulberry32 directly have pinned (apps/eval's probe order).
   */
  static unmixed(state: number): Mulberry32 {
    const rng = new Mulberry32(0);
    rng.state = state >>> 0;
    return rng;
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
    return this.nextUint32() / TWO_POW_32;
  }

  /** Exactly uniform integer in [0, n) by rejection (n <= 2^32). */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`Rng.below: bad bound ${n}`);
    return belowByRejection(() => this.nextUint32(), n);
  }

  /** Standard normal sample (Box-Muller). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Seeds from integers: per-step seeds of training (@aim/train), so resuming needs no saved generator state.

/** A well-mixed unsigned 32-bit seed from any list of safe integers (order matters). @aim/train exports it as `deriveSeed`. */
export function seedFromParts(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) throw new Error(`deriveSeed: parts must be safe integers, got ${part}`);
    // Fold the high bits in too, so steps above 2^32 still give distinct seeds.
    h = mix32((h ^ (part >>> 0)) + 0x9e3779b9);
    h = mix32((h ^ Math.floor(part / 2 ** 32)) + 0x7f4a7c15);
  }
  return h;
}
