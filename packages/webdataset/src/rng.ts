// Seeded, platform-independent random numbers for shuffling and per-sample determinism.
// References: sfc32 (Chris Doty-Humphrey, PractRand); splitmix32 seeding; MurmurHash3 fmix32 finaliser.
//
// STABILITY CONTRACT: the sequences produced here are part of the public API. @aim/data derives per-sample
// augmentation streams from them, so changing any constant or step below changes every shuffled order and every
// augmentation in every experiment. Do not change them; add a new generator instead.

/** A deterministic pseudo-random generator. */
export interface Rng {
  /** Next 32-bit unsigned integer, uniform on [0, 2^32). */
  uint32(): number;
  /** Next float, uniform on [0, 1) (32 bits of resolution). */
  next(): number;
  /** Next integer, uniform on [0, n) for 1 <= n <= 2^32 (rejection sampling, no modulo bias). */
  int(n: number): number;
}

const TWO_POW_32 = 4294967296;

/** splitmix32: spreads a 32-bit seed into well-mixed state words. */
function splitmix32(state: number): { value: number; state: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { value: z >>> 0, state: next };
}

/**
 * Create a generator from a seed (any finite number; it is reduced to 32 bits with `>>> 0`, so use integers).
 * Algorithm: sfc32 whose state (a, b, c) comes from splitmix32(seed) and d = 1, then 12 warm-up rounds.
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new TypeError(`createRng: seed must be a finite number, got ${seed}`);
  let s = seed >>> 0;
  const words: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = splitmix32(s);
    words.push(r.value);
    s = r.state;
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
      // Accept only draws below the largest multiple of n, so every residue is equally likely.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = uint32();
        if (x < limit) return x % n;
      }
    },
  };
}

/** MurmurHash3 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = new TextEncoder();

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
  return fmix32(h);
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
  const mixed = fmix32(fmix32(seed >>> 0) ^ Math.imul(epoch >>> 0, 0x9e3779b1));
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
