// Training-free kNN classifier on frozen features: cosine similarity, k nearest, temperature-weighted votes.
// References: Wu et al. 2018 (non-parametric instance discrimination); DINO's eval_knn.py (k=20, T=0.07).

export interface KnnOptions {
  /** Neighbours that vote (DINO: 20). Clamped to the number of training samples. */
  readonly k?: number;
  /** Vote weight exp(sim / T) (DINO: 0.07). */
  readonly temperature?: number;
}

export interface FeatureSet {
  /** [N, D] row-major. */
  readonly features: Float32Array;
  readonly dim: number;
  readonly labels: Int32Array;
}

function l2Normalise(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let off = 0; off < x.length; off += dim) {
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += x[off + d] * x[off + d];
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let d = 0; d < dim; d++) out[off + d] = x[off + d] * inv;
  }
  return out;
}

function checkSet(name: string, s: FeatureSet): number {
  if (!Number.isInteger(s.dim) || s.dim < 1) throw new Error(`${name}: dim must be a positive integer, got ${s.dim}`);
  if (s.features.length % s.dim !== 0) {
    throw new Error(`${name}: features length ${s.features.length} is not a multiple of dim ${s.dim}`);
  }
  const n = s.features.length / s.dim;
  if (s.labels.length !== n) throw new Error(`${name}: ${s.labels.length} labels for ${n} feature rows`);
  return n;
}

/**
 * Class scores [Nq, C] for each query: the sum over its k most cosine-similar training samples of
 * exp(sim / T), credited to that neighbour's class.
 */
export function knnScores(train: FeatureSet, query: FeatureSet, numClasses: number, opts: KnnOptions = {}): Float32Array {
  const nTrain = checkSet('train', train);
  const nQuery = checkSet('query', query);
  if (train.dim !== query.dim) throw new Error(`train features have dim ${train.dim}, query features ${query.dim}`);
  if (nTrain === 0) throw new Error('kNN needs at least one training sample');
  const k = Math.min(opts.k ?? 20, nTrain);
  const T = opts.temperature ?? 0.07;
  if (!(k >= 1)) throw new Error(`k must be >= 1, got ${opts.k}`);
  if (!(T > 0)) throw new Error(`temperature must be > 0, got ${T}`);
  for (const y of train.labels) {
    if (y < 0 || y >= numClasses) throw new Error(`train label ${y} is outside the classes 0..${numClasses - 1}`);
  }
  const D = train.dim;
  const a = l2Normalise(train.features, D);
  const q = l2Normalise(query.features, D);
  const scores = new Float32Array(nQuery * numClasses);
  const sims = new Float32Array(nTrain);
  const topIdx = new Int32Array(k);
  const topSim = new Float32Array(k);
  for (let i = 0; i < nQuery; i++) {
    for (let j = 0; j < nTrain; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += q[i * D + d] * a[j * D + d];
      sims[j] = s;
    }
    // Keep the k best in a small sorted buffer: k is tiny next to nTrain.
    let filled = 0;
    for (let j = 0; j < nTrain; j++) {
      const s = sims[j];
      if (filled === k && s <= topSim[k - 1]) continue;
      let pos = filled < k ? filled++ : k - 1;
      while (pos > 0 && topSim[pos - 1] < s) {
        topSim[pos] = topSim[pos - 1];
        topIdx[pos] = topIdx[pos - 1];
        pos--;
      }
      topSim[pos] = s;
      topIdx[pos] = j;
    }
    for (let r = 0; r < filled; r++) {
      scores[i * numClasses + train.labels[topIdx[r]]] += Math.exp(topSim[r] / T);
    }
  }
  return scores;
}
