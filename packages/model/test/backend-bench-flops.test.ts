// The benchmark's analytic FLOP count uses exactly the model's weight matrices.
import { beforeAll, describe, expect, it } from 'vitest';
import { forwardFlops, matmulParams, stepFlops } from '../src/flops.js';
import { AIM_VARIANTS, createAim, numPatches, pretrainHeadParamCount, selectBackend, trunkParamCount } from '../src/index.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('bench FLOP count', () => {
  it.each(['aim-dev-nano', 'aim-dev-tiny'])('counts the 2-D weights of %s', (name) => {
    const model = createAim(name);
    try {
      const twoD = model
        .parameters()
        .filter((p) => p.variable.rank === 2)
        .reduce((sum, p) => sum + p.variable.size, 0);
      expect(matmulParams(model.config)).toBe(twoD);
    } finally {
      model.dispose();
    }
  });

  it('leaves only vectors (norms, biases) outside the matmul count for every registry row', () => {
    for (const c of Object.values(AIM_VARIANTS)) {
      const vectors = trunkParamCount(c) + pretrainHeadParamCount(c) - matmulParams(c);
      const w = c.headWidth;
      const p = c.patchSize * c.patchSize * 3;
      // patch bias + patch norm + per-block norms + post norm; head in bias, per-block norms, final norm, out bias
      const expected = c.width + 2 * c.width + c.depth * 4 * c.width + 2 * c.width + w + c.headDepth * 4 * w + 2 * w + p;
      expect(vectors, c.name).toBe(expected);
    }
  });

  it('is 3x the forward count for the matmuls and the attention term', () => {
    const c = AIM_VARIANTS['aim-dev-5M'];
    const k = numPatches(c);
    const step = stepFlops(c, 32);
    expect(step.matmul).toBe(6 * matmulParams(c) * 32 * k);
    expect(step.attention).toBe(12 * 32 * k * k * c.width * c.depth);
    expect(step.total).toBe(3 * forwardFlops(c, 32));
  });
});
