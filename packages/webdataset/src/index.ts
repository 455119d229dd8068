// @aim/webdataset: WebDataset for TypeScript — read, shuffle, split and write POSIX tar shards.
export { expandUrls, braceExpand, locateShard, type ShardLocation } from './urls.js';
export { readSamples, type ReadSamplesOptions } from './read.js';
export { readTarSamples, tarSamples, type TarSamplesOptions } from './group.js';
export { openShard, HttpStatusError, DEFAULT_STALL_TIMEOUT_MS, type HttpOptions, type OpenShardOptions } from './open.js';
export {
  readTarEntries,
  TarFormatError,
  DEFAULT_MAX_MEMBER_SIZE,
  type ReadTarOptions,
  type TarFile,
  type TarItem,
  type TarSkipped,
} from './tar/reader.js';
export {
  type Sample,
  sampleBytes,
  sampleText,
  sampleJson,
  sampleCls,
  splitMemberPath,
  isMetaMember,
} from './sample.js';
export {
  ShardWriter,
  InvalidSampleError,
  formatShardName,
  type ShardWriterOptions,
  type WritableSample,
  type MemberValue,
} from './writer.js';
export {
  type Stage,
  type SeedOptions,
  type ResampleOptions,
  type ShuffleOptions,
  type NodeSplit,
  type WorkerSplit,
  shuffleShards,
  resampleShards,
  splitByNode,
  splitByWorker,
  shuffleSamples,
  limit,
  requireNonEmpty,
  fromArray,
} from './stages.js';
export { randomMix, type Mixed, type RandomMixOptions } from './mix.js';
// The seeded generator of shard and sample shuffles, for callers that shuffle alike.
export { createRng, deriveSeed, murmur3, shuffleInPlace, type Rng } from '@aim/base/random';
export { WebDatasetError, type ErrorPolicy, type ErrorHandling, type WdsErrorInfo } from './errors.js';
