// Warm-up + cosine schedule: endpoints of the recipe and shape properties over random schedules.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { learningRateAt, warmupSteps, type WarmupCosineSchedule } from '../src/index.js';

const recipe = (totalSteps: number): WarmupCosineSchedule => ({ totalSteps, peakLr: 1e-3, warmupFraction: 0.025, warmupStartLr: 1e-6, finalLr: 0 });

describe('learningRateAt', () => {
  it('starts at 1e-6, peaks after 2.5% of steps, ends at 0', () => {
    const s = recipe(1000);
    expect(warmupSteps(s)).toBe(25);
    expect(learningRateAt(0, s)).toBe(1e-6);
    expect(learningRateAt(25, s)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(12, s)).toBeCloseTo(1e-6 + (1e-3 - 1e-6) * (12 / 25), 12);
    expect(learningRateAt(1000, s)).toBeCloseTo(0, 15);
    // halfway through the cosine: half the peak
    expect(learningRateAt(20 + 780 / 2, { ...s, totalSteps: 800 })).toBeCloseTo(5e-4, 9);
  });

  it('rises during warm-up, falls after, and stays within [final, peak]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 100_000 }), fc.double({ min: 1e-5, max: 1, noNaN: true }), (total, peak) => {
        const s: WarmupCosineSchedule = { totalSteps: total, peakLr: peak, warmupFraction: 0.025, warmupStartLr: 1e-6 * peak, finalLr: 0 };
        const w = warmupSteps(s);
        const probe = [0, 1, w - 1, w, w + 1, Math.floor(total / 2), total - 1, total].filter((x) => x >= 0 && x <= total);
        for (const step of probe) {
          const lr = learningRateAt(step, s);
          expect(lr).toBeGreaterThanOrEqual(0);
          expect(lr).toBeLessThanOrEqual(peak * (1 + 1e-12));
          if (step > 0 && step <= w) expect(lr).toBeGreaterThan(learningRateAt(step - 1, s));
          if (step > w) expect(lr).toBeLessThanOrEqual(learningRateAt(step - 1, s));
        }
      }),
    );
  });

  it('rejects bad steps', () => {
    expect(() => learningRateAt(-1, recipe(10))).toThrow(/step must be an integer >= 0/);
    expect(() => learningRateAt(0, recipe(0))).toThrow(/totalSteps/);
  });
});
