// readSamples: the whole reading pipeline (URLs -> shard order -> split -> tar -> samples -> shuffle -> limit).
import { checkedPolicy } from './errors.js';
import { tarSamples, type TarSamplesOptions } from './group.js';
import type { Sample } from './sample.js';
import {
  fromArray,
  limit,
  requireNonEmpty,
  resampleShards,
  shuffleSamples,
  shuffleShards,
  splitByNode,
  splitByWorker,
  type NodeSplit,
  type Stage,
  type WorkerSplit,
} from './stages.js';
import { expandUrls } from './urls.js';

export interface ReadSamplesOptions extends TarSamplesOptions {
  /** Base seed for every random choice; default 0. */
  seed?: number;
  /** Epoch mixed into every seed, so each epoch has its own order; default 0. */
  epoch?: number;
  /** Shuffle the shard list (same permutation on every node, before splitting). Default false. */
  shuffleShards?: boolean;
  /** Sample shuffle buffer: its size, or size and initial fill (default min(100, size)). Default off. */
  shuffle?: number | { size: number; initial?: number };
  /** This process's place among nodes; shards are split `urls[rank::worldSize]`. */
  node?: NodeSplit;
  /** This worker's place among the node's workers; the node's shards are split again `[index::count]`. */
  worker?: WorkerSplit;
  /**
   * Draw shards with replacement forever (or `count` draws) instead of one pass. No splitting happens; instead
   * every node/worker draws its own seeded sequence, and each epoch reseeds it.
   */
  resampled?: boolean | { count?: number };
  /** Stop after this many samples. */
  limit?: number;
}

/**
 * Stream the samples of a dataset. `spec` is anything {@link expandUrls} accepts. Options are checked at once;
 * nothing is read before iteration starts, and at most one sample (plus the shuffle buffer, when asked for) is
 * held at a time.
 */
export function readSamples(spec: string | readonly string[], options: ReadSamplesOptions = {}): AsyncIterable<Sample> {
  checkedPolicy(options);
  const urls = expandUrls(spec);
  const seeds = { seed: options.seed ?? 0, epoch: options.epoch ?? 0 };
  const readers = (options.node?.worldSize ?? 1) * (options.worker?.count ?? 1);
  const place = `node ${options.node?.rank ?? 0}/${options.node?.worldSize ?? 1}, worker ${options.worker?.index ?? 0}/${options.worker?.count ?? 1}`;

  const shardStages: Stage<string, string>[] = [];
  if (options.resampled) {
    const count = typeof options.resampled === 'object' ? options.resampled.count : undefined;
    shardStages.push(resampleShards({ ...seeds, stream: place, ...(count === undefined ? {} : { count }) }));
  } else {
    if (options.shuffleShards) shardStages.push(shuffleShards(seeds));
    if (options.node) shardStages.push(splitByNode(options.node));
    if (options.worker) shardStages.push(splitByWorker(options.worker));
    shardStages.push(
      requireNonEmpty(
        () => `${place} gets no shards: the spec has ${urls.length} shard(s) for ${readers} reader(s); ` + 'use more shards, fewer readers, or resampled mode',
      ),
    );
  }
  const sampleStages: Stage<Sample, Sample>[] = [];
  if (options.shuffle !== undefined && options.shuffle !== 0) {
    const buffer = typeof options.shuffle === 'number' ? { size: options.shuffle } : options.shuffle;
    // Each node/worker sees different samples, so each gets its own sequence of choices.
    sampleStages.push(shuffleSamples({ ...buffer, ...seeds, stream: place }));
  }
  if (options.limit !== undefined) sampleStages.push(limit(options.limit));

  let shards: AsyncIterable<string> = fromArray(urls);
  for (const stage of shardStages) shards = stage(shards);
  let samples = tarSamples(options)(shards);
  for (const stage of sampleStages) samples = stage(samples);
  return samples;
}
