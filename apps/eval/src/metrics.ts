// Classification metrics from scores: top-k accuracy, per-class accuracy and the confusion matrix.

/** Scores of N samples over C classes, row-major: scores[n * C + c]. */
export interface ScoreMatrix {
  readonly scores: Float32Array;
  readonly numClasses: number;
}

export interface ClassificationMetrics {
  /** Fraction of samples whose true class has the highest score. */
  readonly top1: number;
  /** Fraction of samples whose true class is among the 5 highest scores (all of them when C <= 5). */
  readonly top5: number;
  readonly numSamples: number;
  /** Accuracy per true class; null for a class with no test sample. */
  readonly perClass: (number | null)[];
  /** confusion[t][p]: number of samples of true class t predicted as p. */
  readonly confusion: number[][];
}

function checkInputs(m: ScoreMatrix, labels: ArrayLike<number>): number {
  const C = m.numClasses;
  if (!Number.isInteger(C) || C < 1) throw new Error(`numClasses must be a positive integer, got ${C}`);
  if (m.scores.length % C !== 0) {
    throw new Error(`scores length ${m.scores.length} is not a multiple of numClasses ${C}`);
  }
  const N = m.scores.length / C;
  if (labels.length !== N) throw new Error(`labels has ${labels.length} entries but scores hold ${N} samples`);
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    if (!Number.isInteger(y) || y < 0 || y >= C) {
      throw new Error(`label ${y} of sample ${n} is outside the classes 0..${C - 1}`);
    }
  }
  return N;
}

/**
 * Rank of the true class among a sample's scores: how many classes outrank it. Ties go to the lower
 * class index, the same rule as `argmax`, so top-1 and the confusion matrix's diagonal always agree.
 */
function rankOfTrue(scores: Float32Array, offset: number, C: number, y: number): number {
  const s = scores[offset + y];
  let rank = 0;
  for (let c = 0; c < C; c++) {
    if (c === y) continue;
    const v = scores[offset + c];
    if (v > s || (v === s && c < y)) rank++;
  }
  return rank;
}

/** Index of the highest score (the first one on ties). */
export function argmax(scores: Float32Array, offset: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (scores[offset + c] > scores[offset + best]) best = c;
  return best;
}

/** Top-1/top-5, per-class accuracy and confusion matrix of scores [N, C] against integer labels [N]. */
export function classificationMetrics(m: ScoreMatrix, labels: ArrayLike<number>): ClassificationMetrics {
  const N = checkInputs(m, labels);
  if (N === 0) throw new Error('cannot compute accuracy over zero samples');
  const C = m.numClasses;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let hit1 = 0;
  let hit5 = 0;
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    const rank = rankOfTrue(m.scores, n * C, C, y);
    if (rank < 1) hit1++;
    if (rank < 5) hit5++;
    confusion[y][argmax(m.scores, n * C, C)]++;
  }
  const perClass = confusion.map((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[t] / total;
  });
  return { top1: hit1 / N, top5: hit5 / N, numSamples: N, perClass, confusion };
}
