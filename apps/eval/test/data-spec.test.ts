import { describe, expect, it } from 'vitest';
import { dataResolver } from '../src/data-spec.js';

describe('dataResolver', () => {
  it('passes shard specs through and rejects misspelt built-in names', async () => {
    const resolve = dataResolver('/nonexistent-cache', () => {});
    expect(await resolve('data/val-{000000..000003}.tar', 'test')).toBe('data/val-{000000..000003}.tar');
    await expect(resolve('mnist:val', 'test')).rejects.toThrow(/--test mnist:val: the built-in data set is 'mnist', 'mnist:train' or 'mnist:test'/);
  });
});
