// Unit behaviour: prefix sampling, the prefix-causal rule inside the model, the loss against a plain reference,
// patchify round trips, and the probes' BatchNorm statistics.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AttentiveProbe,
  LinearProbe,
  MASKED_SCORE,
  Rng,
  createAim,
  normalizedPixelLoss,
  numPatches,
  patchDim,
  patchify,
  prefixCausalMask,
  prefixLengthsFromMask,
  samplePrefixLengths,
  unpatchify,
} from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const randomArray = (n: number, seed: number): Float32Array => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
};

describe('samplePrefixLengths', () => {
  it('is a pure function of the seed, uniform on 1..K-1', () => {
    const a = samplePrefixLengths(4096, 16, 123);
    expect(Array.from(samplePrefixLengths(4096, 16, 123))).toEqual(Array.from(a));
    expect(Array.from(samplePrefixLengths(4096, 16, 124))).not.toEqual(Array.from(a));
    const counts = new Array(16).fill(0);
    for (const s of a) counts[s]++;
    expect(counts[0]).toBe(0);
    // 4096 draws over 15 values: each ~273 +- 16 (1 sd); 5 sd bounds.
    for (let s = 1; s < 16; s++) expect(Math.abs(counts[s] - 4096 / 15)).toBeLessThan(85);
  });

  it('accepts large and negative seeds and rejects bad arguments', () => {
    expect(samplePrefixLengths(3, 256, 2 ** 52 + 7).every((s) => s >= 1 && s <= 255)).toBe(true);
    expect(Array.from(samplePrefixLengths(8, 256, -5))).not.toEqual(Array.from(samplePrefixLengths(8, 256, 5)));
    expect(() => samplePrefixLengths(2, 1, 0)).toThrow(/numPatches must be an integer >= 2/);
    expect(() => samplePrefixLengths(2, 16, 0.5)).toThrow(/seed must be a safe integer/);
  });
});

describe('prefix-causal attention', () => {
  it('the additive mask allows exactly k < S or k <= q', async () => {
    const prefix = Int32Array.of(1, 3, 5);
    const mask = await prefixCausalMask(prefix, 5).data();
    for (let b = 0; b < 3; b++)
      for (let q = 0; q < 5; q++)
        for (let k = 0; k < 5; k++) {
          const allowed = k < prefix[b] || k <= q;
          expect(mask[(b * 5 + q) * 5 + k]).toBe(allowed ? 0 : MASKED_SCORE);
        }
  });

  it('in the model, a patch after the prefix only influences itself and later positions; a prefix patch all', async () => {
    const model = createAim('aim-dev-nano', {}, { seed: 2 });
    const c = model.config;
    const k = numPatches(c);
    const pd = patchDim(c);
    const base = randomArray(k * pd, 1);
    const s = 6;
    const run = async (changed: number): Promise<{ post: Float32Array; bidi: Float32Array }> => {
      const values = Float32Array.from(base);
      if (changed >= 0) for (let i = 0; i < pd; i++) values[changed * pd + i] += 1;
      const patches = tf.tensor3d(values, [1, k, pd]);
      const post = model.encode(patches, { prefixLengths: Int32Array.of(s) });
      const bidi = model.encode(patches);
      const out = { post: (await post.data()) as Float32Array, bidi: (await bidi.data()) as Float32Array };
      tf.dispose([patches, post, bidi]);
      return out;
    };
    const ref = await run(-1);
    const changedPositions = (a: Float32Array, b: Float32Array): number[] => {
      const out: number[] = [];
      for (let pos = 0; pos < k; pos++) {
        let diff = 0;
        for (let i = 0; i < c.width; i++) diff = Math.max(diff, Math.abs(a[pos * c.width + i] - b[pos * c.width + i]));
        if (diff > 1e-6) out.push(pos);
      }
      return out;
    };
    const all = Array.from({ length: k }, (_, i) => i);
    const late = await run(10); // after the prefix: positions 10.. only
    expect(changedPositions(late.post, ref.post)).toEqual(all.slice(10));
    expect(changedPositions(late.bidi, ref.bidi)).toEqual(all);
    const inPrefix = await run(4); // inside the prefix: every position
    expect(changedPositions(inPrefix.post, ref.post)).toEqual(all);
    model.dispose();
  });
});

describe('normalised-pixel loss', () => {
  it('matches a float64 reference: unbiased per-patch standardisation, next-patch shift, non-prefix targets', async () => {
    const [b, k, p] = [3, 6, 12];
    const pred = randomArray(b * k * p, 11);
    const raw = randomArray(b * k * p, 12).map((x, i) => x * 3 + (i % 5));
    const prefix = Int32Array.of(1, 3, 5);
    let sum = 0;
    let count = 0;
    for (let s = 0; s < b; s++) {
      for (let i = 0; i < k - 1; i++) {
        const t = i + 1; // target position
        if (t < prefix[s]) continue;
        const patch = Array.from(raw.subarray((s * k + t) * p, (s * k + t + 1) * p));
        const mean = patch.reduce((x, y) => x + y, 0) / p;
        const varU = patch.reduce((x, y) => x + (y - mean) ** 2, 0) / (p - 1);
        let mse = 0;
        for (let j = 0; j < p; j++) mse += (pred[(s * k + i) * p + j] - (patch[j] - mean) / Math.sqrt(varU + 1e-6)) ** 2;
        sum += mse / p;
        count++;
      }
    }
    const loss = normalizedPixelLoss(tf.tensor3d(pred, [b, k, p]), tf.tensor3d(raw, [b, k, p]), prefix);
    expect(Math.abs((await loss.data())[0] / (sum / count) - 1)).toBeLessThan(1e-5);
    loss.dispose();
  });

  it('rejects prefix lengths outside 1..K-1 and malformed masks', () => {
    const x = tf.zeros([1, 4, 3]) as tf.Tensor3D;
    expect(() => normalizedPixelLoss(x, x, Int32Array.of(4))).toThrow(/prefixLengths\[0\] = 4 is outside 1..3/);
    expect(() => normalizedPixelLoss(x, x, Int32Array.of(0))).toThrow(/outside 1..3/);
    expect(Array.from(prefixLengthsFromMask([0, 0, 1, 1, 0, 1, 1, 1], 2, 4))).toEqual([2, 1]);
    expect(() => prefixLengthsFromMask([0, 1, 0, 1], 1, 4)).toThrow(/not of the form/);
    x.dispose();
  });
});

describe('patchify', () => {
  it('puts (row, col, channel) inside a patch and unpatchify inverts it', async () => {
    const images = tf.tensor4d(randomArray(2 * 3 * 8 * 8, 3), [2, 3, 8, 8]);
    const patches = patchify(images, 4); // [2, 4, 48]
    const img = await images.data();
    const pat = await patches.data();
    // batch 1, patch (row 1, col 0) = index 2; inside: row 3, col 2, channel 1.
    expect(pat[(1 * 4 + 2) * 48 + (3 * 4 + 2) * 3 + 1]).toBe(img[((1 * 3 + 1) * 8 + 4 + 3) * 8 + 0 + 2]);
    const back = unpatchify(patches, 4);
    expect(Array.from(await back.data())).toEqual(Array.from(img));
    tf.dispose([images, patches, back]);
  });
});

describe('probe BatchNorm', () => {
  it("train mode normalises with batch statistics and updates running stats like torch's BatchNorm1d", async () => {
    const [b, n, d] = [2, 3, 8];
    const values = randomArray(b * n * d, 21).map((x, i) => x * 2 + (i % d));
    const features = tf.tensor3d(values, [b, n, d]);
    const probe = new AttentiveProbe({ width: d, heads: 2, numClasses: 4, seed: 1 });
    probe.forward(features, 'train').dispose();
    probe.forward(features, 'train').dispose();
    const state = probe.stateDict();
    const [rm, rv, nb] = await Promise.all(['running_mean', 'running_var', 'num_batches_tracked'].map((k) => state[`head.bn.${k}`].data()));
    expect(nb[0]).toBe(2);
    for (let ch = 0; ch < d; ch++) {
      const xs = Array.from({ length: b * n }, (_, i) => values[i * d + ch]);
      const mean = xs.reduce((x, y) => x + y, 0) / xs.length;
      const varU = xs.reduce((x, y) => x + (y - mean) ** 2, 0) / (xs.length - 1);
      let m = 0;
      let v = 1;
      for (let step = 0; step < 2; step++) {
        m = 0.9 * m + 0.1 * mean;
        v = 0.9 * v + 0.1 * varU;
      }
      expect(rm[ch]).toBeCloseTo(m, 5);
      expect(rv[ch]).toBeCloseTo(v, 4);
    }
    // Eval mode uses the running statistics, so logits differ from train mode's and do not move the stats.
    const [trainLogits, evalLogits] = await Promise.all([probe.forward(features, 'train').data(), probe.forward(features, 'eval').data()]);
    expect(Array.from(evalLogits)).not.toEqual(Array.from(trainLogits));
    tf.dispose(state);
    probe.dispose();
    features.dispose();
  });

  it('linear probe: state round trip and shape checks', async () => {
    const a = new LinearProbe({ width: 8, numClasses: 3, seed: 1 });
    const b = new LinearProbe({ width: 8, numClasses: 3, seed: 2 });
    const f = tf.tensor3d(randomArray(2 * 4 * 8, 5), [2, 4, 8]);
    a.forward(f, 'train').dispose();
    const sd = a.stateDict();
    await b.loadStateDict(sd);
    const [x, y] = await Promise.all([a.forward(f, 'eval').data(), b.forward(f, 'eval').data()]);
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(() => a.forward(tf.zeros([2, 4, 7]) as tf.Tensor3D, 'eval')).toThrow(/features must be \[B, N, 8\], got \[2,4,7\]/);
    await expect(b.loadStateDict({ ...sd, 'linear_probe.linear.bias': tf.zeros([4]) })).rejects.toThrow(
      /tensor 'linear_probe.linear.bias' has shape \[4\], expected \[3\]/,
    );
    tf.dispose([sd, f]);
    a.dispose();
    b.dispose();
  });
});
