// Weight initialisation values from the seeded generator (no tfjs RNG state involved), so equal seeds give equal
// models on every backend. References: PyTorch nn.init.xavier_uniform_ and nn.Linear's default init.
import type { Mulberry32 } from '@aim/base/random';

/** Xavier-uniform values for a weight with the given fans: U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(rng: Mulberry32, size: number, fanIn: number, fanOut: number): Float32Array {
  return uniformValues(rng, size, Math.sqrt(6 / (fanIn + fanOut)));
}

/** Uniform values in [-bound, bound) (PyTorch's default nn.Linear init uses bound = 1 / sqrt(fanIn)). */
export function uniformValues(rng: Mulberry32, size: number, bound: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (2 * rng.uniform() - 1) * bound;
  return out;
}

/** Normal values with the given standard deviation. */
export function normalValues(rng: Mulberry32, size: number, std: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal() * std;
  return out;
}
