// One entry point for the three probes on frozen features: attentive (tokens), linear (mean-pooled), kNN (mean-pooled).
// References: El-Nouby et al. 2024 (attentive probe); He et al. 2022, MAE (linear probe); Wu et al. 2018 / DINO (kNN).
import type { ProbeKind } from './cli-args.js';
import { meanPool, type TokenFeatures } from './features.js';
import { knnScores } from './knn.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';
import { predictScores, trainProbe, type ProbeHead, type ProbeRecipeOptions } from './train-probe.js';

export interface LabeledFeatures {
  readonly features: TokenFeatures;
  readonly labels: Int32Array;
}

/** Builds a fresh head; `inputDim` is the feature width D (attentive) or the pooled vector length (linear). */
export interface HeadFactories {
  attentive(inputDim: number, numClasses: number, seed: number): ProbeHead;
  linear(inputDim: number, numClasses: number, seed: number): ProbeHead;
}

export interface ProbeSettings extends ProbeRecipeOptions {
  readonly knnK: number;
  readonly knnTemperature: number;
}

export interface ProbeOutcome {
  readonly metrics: ClassificationMetrics;
  /** Mean training loss per epoch (empty for kNN). */
  readonly epochLosses: number[];
  /** The trained head when asked to keep it (the caller disposes it); never for kNN. */
  readonly head?: ProbeHead;
}

/** The recipe as written into report.json: what a reader needs to rerun the probe. */
export function recipeOf(kind: ProbeKind, s: ProbeSettings): Record<string, string | number> {
  if (kind === 'knn')
    return { method: 'kNN on mean-pooled features', similarity: 'cosine', k: s.knnK, temperature: s.knnTemperature, votes: 'sum of exp(sim / T)' };
  return {
    method:
      kind === 'attentive'
        ? 'attentive probe on token features (BatchNorm, learned query, k/v attention, linear)'
        : 'linear probe on mean-pooled features (BatchNorm, linear)',
    optimizer: 'AdamW',
    beta1: s.beta1 ?? 0.9,
    beta2: s.beta2 ?? 0.999,
    lr: s.lr,
    weightDecay: s.weightDecay,
    schedule: `linear warm-up from 1e-6 over ${s.warmupEpochs} epoch(s), cosine to 0`,
    epochs: s.epochs,
    batchSize: s.batchSize,
    loss: 'softmax cross-entropy',
    augmentation: 'none (cached frozen features)',
    seed: s.seed,
  };
}

/** Trains (or, for kNN, fits) a probe on `train` and scores it on `test`. */
export async function runProbe(
  kind: ProbeKind,
  train: LabeledFeatures,
  test: LabeledFeatures,
  numClasses: number,
  settings: ProbeSettings,
  heads: HeadFactories,
  options: { keepHead?: boolean } = {},
): Promise<ProbeOutcome> {
  const { features: ft } = train;
  if (ft.dim !== test.features.dim || ft.tokens !== test.features.tokens) {
    throw new Error(`train features are [*, ${ft.tokens}, ${ft.dim}] but test features [*, ${test.features.tokens}, ${test.features.dim}]`);
  }
  if (kind === 'knn') {
    const scores = knnScores(
      { features: meanPool(ft), dim: ft.dim, labels: train.labels },
      { features: meanPool(test.features), dim: ft.dim, labels: test.labels },
      numClasses,
      { k: settings.knnK, temperature: settings.knnTemperature },
    );
    return { metrics: classificationMetrics({ scores, numClasses }, test.labels), epochLosses: [] };
  }
  const attentive = kind === 'attentive';
  const shape = attentive ? [ft.tokens, ft.dim] : [ft.dim];
  const asData = (f: LabeledFeatures) => ({
    x: attentive ? f.features.data : meanPool(f.features),
    sampleShape: shape,
    labels: f.labels,
  });
  const head = attentive ? heads.attentive(ft.dim, numClasses, settings.seed) : heads.linear(ft.dim, numClasses, settings.seed);
  let keep = false;
  try {
    const { epochLosses } = await trainProbe(head, asData(train), numClasses, settings);
    const { scores } = await predictScores(head, asData(test), settings.batchSize);
    const metrics = classificationMetrics({ scores, numClasses }, test.labels);
    keep = options.keepHead === true;
    return keep ? { metrics, epochLosses, head } : { metrics, epochLosses };
  } finally {
    if (!keep) head.dispose();
  }
}
