// AdamW against a float64 reference of torch.optim.AdamW's update, decay groups, state round trip, tensor leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { AdamW, momentName } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** torch.optim.AdamW for one scalar-array parameter, in float64. */
function referenceAdamW(p0: number[], grads: number[][], lrs: number[], decay: boolean, o = { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.05 }): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, t) => {
    const lr = lrs[t];
    for (let i = 0; i < p.length; i++) {
      if (decay) p[i] *= 1 - lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const bc1 = 1 - o.b1 ** (t + 1);
      const bc2 = 1 - o.b2 ** (t + 1);
      p[i] -= (lr / bc1) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps));
    }
  });
  return p;
}

describe('AdamW', () => {
  const init = [0.5, -1.25, 2.0, 0.0];
  const gradSeq = [
    [0.1, -0.2, 0.3, 0.0],
    [-0.05, 0.4, 0.2, 1e-3],
    [0.3, 0.1, -0.6, -2.0],
    [0.0, 0.0, 0.1, 0.5],
  ];
  const lrs = [1e-3, 5e-3, 1e-2, 2e-3];

  it('matches the torch AdamW update, with decay only on decay parameters', () => {
    const w = tf.variable(tf.tensor1d(init), true, 'w');
    const b = tf.variable(tf.tensor1d(init), true, 'b');
    const opt = new AdamW([
      { name: 'w', variable: w, decay: true },
      { name: 'b', variable: b, decay: false },
    ]);
    gradSeq.forEach((g, t) => {
      const grads = new Map([
        ['w', tf.tensor1d(g)],
        ['b', tf.tensor1d(g)],
      ]);
      opt.apply(grads, lrs[t]);
      grads.forEach((x) => x.dispose());
    });
    const expectW = referenceAdamW(init, gradSeq, lrs, true);
    const expectB = referenceAdamW(init, gradSeq, lrs, false);
    Array.from(w.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expectW[i], 6));
    Array.from(b.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expectB[i], 6));
    // decay made a difference where the weight is non-zero
    expect(Math.abs(w.dataSync()[2] - b.dataSync()[2])).toBeGreaterThan(1e-7);
    expect(opt.updateCount).toBe(4);
    opt.dispose();
    w.dispose();
    b.dispose();
  });

  it('resumes exactly from saved state: save after 2 updates, load into a fresh optimiser, same result', () => {
    const run = (split: boolean): number[] => {
      const w = tf.variable(tf.tensor1d(init), true, `w${split}`);
      let opt = new AdamW([{ name: 'w', variable: w, decay: true }]);
      gradSeq.forEach((g, t) => {
        if (split && t === 2) {
          const state = Object.fromEntries(Object.entries(opt.stateTensors()).map(([k, v]) => [k, tf.tensor(v.dataSync(), v.shape)]));
          const count = opt.updateCount;
          opt.dispose();
          opt = new AdamW([{ name: 'w', variable: w, decay: true }]);
          opt.loadState(state, count);
          Object.values(state).forEach((x) => x.dispose());
        }
        const grad = tf.tensor1d(g);
        opt.apply(new Map([['w', grad]]), lrs[t]);
        grad.dispose();
      });
      const out = Array.from(w.dataSync());
      opt.dispose();
      w.dispose();
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('names its state tensors and rejects missing or mis-shaped gradients and state', () => {
    const w = tf.variable(tf.zeros([2, 3]), true, 'named');
    const opt = new AdamW([{ name: 'trunk.w', variable: w, decay: true }]);
    expect(Object.keys(opt.stateTensors()).sort()).toEqual([momentName('m', 'trunk.w'), momentName('v', 'trunk.w')].sort());
    expect(() => opt.apply(new Map(), 1e-3)).toThrow(/no gradient for parameter 'trunk.w'/);
    const wrong = tf.zeros([3, 2]);
    expect(() => opt.apply(new Map([['trunk.w', wrong]]), 1e-3)).toThrow(/shape \[3,2\].*\[2,3\]/);
    expect(() => opt.loadState({}, 1)).toThrow(/no tensor 'optimizer.m.trunk.w'/);
    expect(() => opt.apply(new Map([['trunk.w', tf.zeros([2, 3])]]), NaN)).toThrow(/learning rate/);
    wrong.dispose();
    opt.dispose();
    w.dispose();
  });

  it('frees everything it allocated on dispose', () => {
    const w = tf.variable(tf.ones([4, 4]), true, 'alloc');
    const before = tf.memory().numTensors;
    const opt = new AdamW([{ name: 'alloc', variable: w, decay: true }]);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });

  it('does not leak tensors per update', () => {
    const w = tf.variable(tf.ones([4, 4]), true, 'leak');
    const opt = new AdamW([{ name: 'leak', variable: w, decay: true }]);
    const g = tf.ones([4, 4]);
    opt.apply(new Map([['leak', g]]), 1e-3);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.apply(new Map([['leak', g]]), 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    g.dispose();
    opt.dispose();
    w.dispose();
  });
});
