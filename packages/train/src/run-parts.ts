// What a run is made of and what it reads: the training/validation streams, the positions a checkpoint records, and
// the model and compute backend. `createRunParts` (wiring.ts) builds them from a config with @aim/model and @aim/data.
import type { AimEngine } from '@aim/gpu';
import type { AimModel } from '@aim/model';
import type { DataShare, RankPositions } from './data-share.js';
import type { PatchBatchLike, PrefixSampler } from './train-step.js';

/** Where the training stream stands; saved in checkpoints. `microBatches` is what resuming relies on. */
export interface DataPosition {
  /** Micro-batches consumed since the start of the run. */
  readonly microBatches: number;
  /**
   * What the loader reports about its position (epoch, shard, sample offset). In a data-parallel checkpoint: the
   * position one process would have after the same micro-batches, present when every rank stood at the step's block
   * boundary (nothing it decoded was rejected); any world size resumes from it exactly.
   */
  readonly loader?: Readonly<Record<string, unknown>>;
  /** Data parallel: every rank's own loader position (each decodes only its share); the same split resumes from them. */
  readonly ranks?: RankPositions;
}

/** A batch with the loader's position right after it (what a checkpoint must record once the batch is consumed). */
export type PositionedBatch = PatchBatchLike & { readonly dataPosition?: Readonly<Record<string, unknown>> };

export interface TrainData {
  readonly batches: AsyncIterable<PositionedBatch>;
  /** Rejected-sample counts and throughput, reported in logs. */
  stats?(): Readonly<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The parts a run is made of; `createRunParts` (wiring.ts) builds them from a config with @aim/model and @aim/data. */
export interface RunParts {
  /** The AIM model with its pretraining head. */
  readonly model: AimModel;
  readonly samplePrefixLengths: PrefixSampler;
  /**
   * Opens the training stream at its start, or right after the position saved in a checkpoint. With `share` (data
   * parallel, more than one rank) it yields only this rank's micro-batches of every step, `accum / size` of them.
   */
  openTrainData(from: DataPosition | undefined, share?: DataShare): Promise<TrainData>;
  /**
   * Throws the error `openTrainData` would throw for this position and share, without opening anything: the run calls
   * it before it writes the run folder or loads the checkpoint's weights.
   */
  checkResume?(from: DataPosition | undefined, share?: DataShare): void;
  /** Opens the validation stream from its start (deterministic order, eval transform); undefined: no validation. */
  openValData?(): Promise<TrainData>;
  /** Short description of the compute backend, for logs. */
  readonly backend: string;
  /**
   * The WebGPU engine, when it computes the steps (and holds the AdamW moments): `model` is then the host copy of the
   * weights, refreshed when a checkpoint is written. runPretraining destroys it when the run ends.
   */
  readonly engine?: AimEngine;
}
