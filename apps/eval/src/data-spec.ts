// Data specs of eval:probe: `mnist:train` / `mnist:test` (the built-in MNIST shards the trainer pretrains on, prepared
// once in a cache folder by @aim/shards), or any WebDataset shard spec (brace pattern, file, URL) with a `cls` label.
import { join } from 'node:path';
import { prepareMnist, type MnistShards } from '@aim/shards';
import type { DataResolver, Split } from './probe-command.js';

/** Resolves `mnist` (the split's own half), `mnist:train`, `mnist:test`, or passes a shard spec through. */
export function dataResolver(cacheDir: string, log: (line: string) => void): DataResolver {
  let shards: Promise<MnistShards> | null = null;
  return async (spec: string, split: Split) => {
    const m = /^mnist(?::(train|test))?$/.exec(spec);
    if (!m) {
      if (spec.startsWith('mnist')) throw new Error(`--${split} ${spec}: the built-in data set is 'mnist', 'mnist:train' or 'mnist:test'`);
      return spec;
    }
    shards ??= prepareMnist(join(cacheDir, 'mnist'), log);
    const which = m[1] ?? split;
    // The MNIST test split is the trainer's validation split: never pretrained on.
    return which === 'train' ? (await shards).train : (await shards).val;
  };
}
