// Data specs of eval:probe: `mnist:train` / `mnist:test` (the trainer's built-in MNIST shards, prepared once in a
// cache folder), or any WebDataset shard spec (brace pattern, file, URL) whose samples carry a `cls` label.
import { join } from 'node:path';
import * as trainer from '@aim/trainer';
import type { DataResolver, Split } from './probe-command.js';

interface MnistShards {
  readonly train: string;
  readonly val: string;
}
type PrepareMnist = (cacheDir: string, log: (message: string) => void) => Promise<MnistShards>;

/** The trainer's MNIST preparation, so that eval probes exactly the data the trainer pretrains on. */
function trainerPrepareMnist(): PrepareMnist {
  const fn = (trainer as Record<string, unknown>).prepareMnist;
  if (typeof fn !== 'function') {
    throw new Error("the 'mnist' data spec needs prepareMnist exported from @aim/trainer (apps/trainer/src/index.ts); give shard paths instead");
  }
  return fn as PrepareMnist;
}

/** Resolves `mnist` (the split's own half), `mnist:train`, `mnist:test`, or passes a shard spec through. */
export function dataResolver(cacheDir: string, log: (line: string) => void): DataResolver {
  let shards: Promise<MnistShards> | null = null;
  return async (spec: string, split: Split) => {
    const m = /^mnist(?::(train|test))?$/.exec(spec);
    if (!m) {
      if (spec.startsWith('mnist')) throw new Error(`--${split} ${spec}: the built-in data set is 'mnist', 'mnist:train' or 'mnist:test'`);
      return spec;
    }
    shards ??= trainerPrepareMnist()(join(cacheDir, 'mnist'), log);
    const which = m[1] ?? split;
    // The MNIST test split is the trainer's validation split: never pretrained on.
    return which === 'train' ? (await shards).train : (await shards).val;
  };
}
