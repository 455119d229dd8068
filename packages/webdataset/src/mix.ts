// Weighted mixing of several sample streams (the paper's DFN-2B+: DFN-2B with weight 0.8, ImageNet-1k with 0.2).
// References: webdataset (Python) mix.RandomMix with longest=True.
import { createRng, deriveSeed } from '@aim/base/random';
import type { SeedOptions } from './stages.js';

export interface RandomMixOptions extends SeedOptions {
  /** Relative weight of each source (positive, finite); default 1 each. */
  weights?: readonly number[];
}

/** One item of a mixed stream and the index of the source it came from. */
export interface Mixed<T> {
  item: T;
  source: number;
}

/**
 * Interleaves `sources`, drawing each next item's source at random in proportion to its weight (one seeded draw per
 * item, none while a single source is left). An exhausted source leaves the mixture and the others keep their
 * relative weights, so every item of every source is yielded. The draws depend only on (seed, epoch); closing the
 * mixed stream closes every source.
 */
export async function* randomMix<T>(sources: readonly AsyncIterable<T>[], options: RandomMixOptions = {}): AsyncGenerator<Mixed<T>> {
  const weights = options.weights ?? sources.map(() => 1);
  if (weights.length !== sources.length) throw new RangeError(`randomMix: ${weights.length} weights for ${sources.length} sources`);
  weights.forEach((w, i) => {
    if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`randomMix: weights[${i}] must be a positive number, got ${w}`);
  });
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const active = sources.map((_, i) => i);
  const rng = createRng(deriveSeed(options.seed ?? 0, options.epoch ?? 0, 'mix-sources'));
  try {
    while (active.length > 0) {
      let slot = 0;
      if (active.length > 1) {
        const total = active.reduce((sum, i) => sum + weights[i], 0);
        let u = rng.next() * total;
        while (slot < active.length - 1 && u >= weights[active[slot]]) u -= weights[active[slot++]];
      }
      const source = active[slot];
      const next = await iterators[source].next();
      if (next.done) {
        active.splice(slot, 1);
        continue;
      }
      yield { item: next.value, source };
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}
