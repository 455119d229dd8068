// Builds a run's parts from a resolved config: the AIM model (@aim/model) and the training/validation loaders
// (@aim/data), with loader positions captured per batch so checkpoints record what the step actually consumed.
import type { LoaderOptions } from '@aim/data';
import { openLoaderThread } from './loader-thread.js';
import { createAim, samplePrefixLengths } from '@aim/model';
import type { TrainConfig } from './config-fields.js';
import { type DataShare, oneProcessResumePosition, rankResumePosition } from './data-share.js';
import type { DataPosition, RunParts, TrainData } from './run-parts.js';

export interface DataSpecs {
  /** Training shard spec (WebDataset URLs / brace patterns). */
  readonly train: string;
  /** Validation shard spec; undefined: no validation. */
  readonly val?: string;
}

export interface CreateRunPartsOptions {
  readonly config: TrainConfig;
  readonly data: DataSpecs;
  /** Name of the active tfjs backend (selectBackend has run), for logs and checkpoints. */
  readonly backend: string;
}

/** The model with its pretraining head, initialised from the run seed, and loaders sized for it. */
export function createRunParts(options: CreateRunPartsOptions): RunParts {
  const { config, data } = options;
  const model = createAim(config.variant, {}, { seed: config.seed });
  const { imageSize, patchSize } = model.config;
  const resumePosition = (from: DataPosition | undefined, share?: DataShare) =>
    share ? rankResumePosition(from, share, config) : oneProcessResumePosition(from);
  return {
    model,
    samplePrefixLengths,
    backend: options.backend,
    checkResume: (from, share) => void resumePosition(from, share),
    openTrainData: async (from, share) => {
      const resume = resumePosition(from, share);
      const loaderOptions: LoaderOptions = {
        shards: data.train,
        batchSize: config.batchSize,
        imageSize,
        patchSize,
        transform: config.augment,
        workers: config.workers,
        // Samples in flight in the decode pool: `prefetch` batches' worth, matching the batches kept ready.
        prefetch: config.batchSize * config.prefetch,
        seed: config.seed,
        epochs: Infinity,
        // Equal batch sizes keep every step's shapes and accumulation weights the same.
        dropLast: true,
        ordered: true,
        ...(resume ? { resume } : {}),
        // Data parallel: this rank reads only its own shards, or decodes only the blocks of samples that fill its
        // micro-batch slots of each step.
        ...(share
          ? config.dataSplit === 'shards'
            ? { rank: share.rank, worldSize: share.size }
            : { share: { rank: share.rank, size: share.size, batchesPerStep: config.accum } }
          : {}),
      };
      // On its own thread: wasm/cpu steps block this one, and the loader must keep going during them.
      return openLoaderThread(loaderOptions, config.prefetch);
    },
    ...(data.val !== undefined
      ? {
          openValData: async (): Promise<TrainData> => {
            const valOptions: LoaderOptions = {
              shards: data.val!,
              batchSize: config.batchSize,
              imageSize,
              patchSize,
              transform: 'eval',
              workers: config.workers,
              seed: 0,
              epochs: 1,
              shuffleShards: false,
              ordered: true,
            };
            // Also on its own thread: the run stops reading after valBatches, and closing a loader with tasks in
            // flight is then contained in that thread.
            return openLoaderThread(valOptions, config.prefetch);
          },
        }
      : {}),
  };
}
