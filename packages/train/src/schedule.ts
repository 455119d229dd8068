// Learning-rate schedule of the AIM recipe: linear warm-up from a small start value, then cosine decay to a floor.
// References: El-Nouby et al. 2024, "Scalable Pre-training of Large Autoregressive Image Models", pretraining recipe.

export interface WarmupCosineSchedule {
  /** Total optimiser steps of the schedule; the LR reaches `finalLr` at step `totalSteps`. */
  readonly totalSteps: number;
  readonly peakLr: number;
  /** Fraction of `totalSteps` spent warming up (0.025 in the recipe). */
  readonly warmupFraction: number;
  /** LR at step 0 (1e-6 in the recipe). */
  readonly warmupStartLr: number;
  /** LR at the end of the cosine (0 in the recipe). */
  readonly finalLr: number;
}

/** Number of warm-up steps: round(fraction * total), at least 1 when the fraction is > 0. */
export function warmupSteps(s: WarmupCosineSchedule): number {
  if (s.warmupFraction <= 0) return 0;
  return Math.max(1, Math.round(s.warmupFraction * s.totalSteps));
}

/** LR for 0-based optimiser step `step` (the LR used for the update that completes step `step + 1`). */
export function learningRateAt(step: number, s: WarmupCosineSchedule): number {
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1) {
    throw new Error(`schedule: totalSteps must be an integer >= 1, got ${s.totalSteps}`);
  }
  if (!Number.isInteger(step) || step < 0) throw new Error(`schedule: step must be an integer >= 0, got ${step}`);
  const warm = warmupSteps(s);
  if (step < warm) return s.warmupStartLr + ((s.peakLr - s.warmupStartLr) * step) / warm;
  const decaySteps = s.totalSteps - warm;
  if (decaySteps <= 0) return s.peakLr;
  const progress = Math.min(1, (step - warm) / decaySteps);
  return s.finalLr + 0.5 * (s.peakLr - s.finalLr) * (1 + Math.cos(Math.PI * progress));
}
