// Builds a run's parts from a resolved config: the AIM model (@aim/model) and the training/validation loaders
// (@aim/data), with loader positions captured per batch so checkpoints record what the step actually consumed.
import { createLoader, type LoaderOptions, type LoaderPosition, type PatchLoader } from '@aim/data';
import { openLoaderThread } from './loader-thread.js';
import { createAim, samplePrefixLengths } from '@aim/model';
import type { TrainConfig } from './config.js';
import type { PositionedBatch, RunParts, TrainData } from './run.js';

export interface DataSpecs {
  /** Training shard spec (WebDataset URLs / brace patterns). */
  readonly train: string;
  /** Validation shard spec; undefined: no validation. */
  readonly val?: string;
}

/** Tags each batch with the loader position right after it; the run records it once the batch is consumed. */
async function* withPositions(loader: PatchLoader): AsyncGenerator<PositionedBatch> {
  for await (const batch of loader) yield Object.assign(batch, { dataPosition: { ...loader.position() } });
}

function isLoaderPosition(p: unknown): p is LoaderPosition {
  const q = p as Partial<LoaderPosition> | undefined;
  return typeof q?.epoch === 'number' && typeof q.samplesInEpoch === 'number';
}

export interface CreateRunPartsOptions {
  readonly config: TrainConfig;
  readonly data: DataSpecs;
  /** Name of the active tfjs backend (selectBackend has run), for logs and checkpoints. */
  readonly backend: string;
  /** Run the training loader on its own thread (default true; false keeps it on the main thread). */
  readonly loaderThread?: boolean;
}

/** The model with its pretraining head, initialised from the run seed, and loaders sized for it. */
export function createRunParts(options: CreateRunPartsOptions): RunParts {
  const { config, data } = options;
  const model = createAim(config.variant, {}, { seed: config.seed });
  const { imageSize, patchSize } = model.config;
  return {
    model,
    samplePrefixLengths,
    backend: options.backend,
    openTrainData: async (from) => {
      const resume = from?.loader;
      if (from && from.microBatches > 0 && !isLoaderPosition(resume)) {
        throw new Error(`checkpoint data position ${JSON.stringify(from)} has no loader position {epoch, samplesInEpoch} to resume from`);
      }
      const loaderOptions: LoaderOptions = {
        shards: data.train,
        batchSize: config.batchSize,
        imageSize,
        patchSize,
        transform: config.augment,
        workers: config.workers,
        // The step blocks the main thread (wasm/cpu compute synchronously), so only tasks already handed to the
        // workers progress during it: keep `prefetch` batches' worth of samples in flight.
        prefetch: config.batchSize * config.prefetch,
        seed: config.seed,
        epochs: Infinity,
        // Equal batch sizes keep every step's shapes and accumulation weights the same.
        dropLast: true,
        ordered: true,
        ...(isLoaderPosition(resume) ? { resume } : {}),
      };
      if (options.loaderThread === false) {
        const loader = createLoader(loaderOptions);
        return { batches: withPositions(loader), stats: () => ({ ...loader.stats() }), close: () => loader.close() };
      }
      return openLoaderThread(loaderOptions, config.prefetch);
    },
    ...(data.val !== undefined
      ? {
          openValData: async (): Promise<TrainData> => {
            const loader = createLoader({
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
            });
            return { batches: loader, stats: () => ({ ...loader.stats() }), close: () => loader.close() };
          },
        }
      : {}),
  };
}
