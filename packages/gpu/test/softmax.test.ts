// Masked (prefix-causal) softmax over [B * heads, K, K] score tiles and its backward vs float64 references, on K that
// are not multiples of the 64-thread workgroup (and K > 64), with prefix lengths 1, K - 1 and K (full attention).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { softmaxBackward, softmaxForward, softmaxReference } from '../src/kernels/softmax.js';
import { gpuUnavailable, testDevice } from './device.js';
import { harness, randomArray, relError } from '../src/harness.js';

const TOL = 1e-5;
const keys = fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(1, 2, 63, 64, 65, 70));
const worst: Record<string, number> = {};
const note = (key: string, err: number): number => {
  worst[key] = Math.max(worst[key] ?? 0, err);
  return err;
};

/** dS = scale * P * (dP - rowsum(P * dP)) per row of width k, in float64. */
function softmaxBackwardReference(p: Float32Array, dp: Float32Array, k: number, scale: number): Float32Array {
  const out = new Float32Array(p.length);
  for (let r = 0; r < p.length / k; r++) {
    let t = 0;
    for (let j = 0; j < k; j++) t += p[r * k + j] * dp[r * k + j];
    for (let j = 0; j < k; j++) out[r * k + j] = scale * p[r * k + j] * (dp[r * k + j] - t);
  }
  return out;
}

describe.skipIf(gpuUnavailable !== undefined)('masked softmax', () => {
  it('forward matches softmaxReference per tile; masked entries are exactly 0', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          heads: fc.integer({ min: 1, max: 3 }),
          k: keys,
          picks: fc.array(fc.integer({ min: 0, max: 1 << 20 }), { minLength: 3, maxLength: 3 }),
          spread: fc.constantFrom(1, 8, 40),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ batch, heads, k, picks, spread, seed }) => {
          // Per-sample prefix lengths: 1, K - 1 or K (full attention) half the time, else drawn in 1..K.
          const prefix = Uint32Array.from({ length: batch }, (_, b) => {
            const special = [1, Math.max(1, k - 1), k];
            return picks[b] % 2 === 0 ? special[(picks[b] >> 1) % 3] : 1 + ((picks[b] >> 1) % k);
          });
          // Large spreads make exp overflow without the max subtraction.
          const scores = randomArray(batch * heads * k * k, seed).map((v) => spread * v);
          const h = harness(device);
          const S = h.input('scores', scores);
          const P = h.input('prefix', prefix);
          softmaxForward(h.pb, { batch, heads, k, scores: S, prefix: P });
          const [got] = await h.run([S]);
          for (let b = 0; b < batch; b++) {
            for (let hh = 0; hh < heads; hh++) {
              const off = (b * heads + hh) * k * k;
              const want = softmaxReference(scores.subarray(off, off + k * k), k, prefix[b]);
              const tile = got.subarray(off, off + k * k);
              expect(note('forward', relError(tile, want)), `b ${b} head ${hh} S ${prefix[b]}`).toBeLessThan(TOL);
              for (let q = 0; q < k; q++) {
                for (let key = 0; key < k; key++) {
                  if (!(key < prefix[b] || key <= q)) expect(tile[q * k + key]).toBe(0);
                }
                let sum = 0;
                for (let key = 0; key < k; key++) sum += tile[q * k + key];
                expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
              }
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('backward gives scale * P * (dP - rowsum(P * dP)) in place on dP', async () => {
    const device = await testDevice();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          tiles: fc.integer({ min: 1, max: 9 }),
          k: keys,
          s: fc.integer({ min: 1, max: 70 }),
          scale: fc.constantFrom(1, 0.125, 0.35355339),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        async ({ tiles, k, s, scale, seed }) => {
          // P: real masked softmax rows (zeros where masked), as the forward leaves them.
          const raw = randomArray(tiles * k * k, seed).map((v) => 4 * v);
          const p = new Float32Array(tiles * k * k);
          const s1 = 1 + (s % k);
          for (let t = 0; t < tiles; t++) p.set(softmaxReference(raw.subarray(t * k * k, (t + 1) * k * k), k, s1), t * k * k);
          const dp = randomArray(tiles * k * k, seed + 1);
          const rows = tiles * k;
          const h = harness(device);
          const Pb = h.input('P', p);
          const dPb = h.input('dP', dp);
          softmaxBackward(h.pb, { rows, k, scale, probs: Pb, dProbs: dPb });
          const [got, pAfter] = await h.run([dPb, Pb]);
          const want = softmaxBackwardReference(p, dp, k, scale);
          // dP - rowsum(P * dP) cancels when a row is nearly one-hot, so float32 rounding of the row sum is measured
          // against the size of the terms, scale * P * (|dP| + |rowsum|), not against the (small) result alone.
          let diff = 0;
          let terms = 0;
          for (let r = 0; r < rows; r++) {
            let t = 0;
            for (let j = 0; j < k; j++) t += p[r * k + j] * dp[r * k + j];
            for (let j = 0; j < k; j++) {
              const i = r * k + j;
              diff = Math.max(diff, Math.abs(got[i] - want[i]));
              terms = Math.max(terms, Math.abs(scale * p[i]) * (Math.abs(dp[i]) + Math.abs(t)));
            }
          }
          note('backward (plain relError)', relError(got, want));
          expect(note('backward (vs term size)', diff / terms)).toBeLessThan(TOL);
          expect(pAfter).toEqual(p); // P is read only
          for (let i = 0; i < p.length; i++) if (p[i] === 0) expect(Math.abs(got[i])).toBe(0); // masked stay masked
        },
      ),
      { numRuns: 30 },
    );
    console.info('[softmax] worst relative errors', worst);
  });
});
