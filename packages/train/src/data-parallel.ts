// Data parallelism across processes: what the loop needs from a communicator (structurally @aim/mpi's Mpi), how a
// step's micro-batches are shared among the processes, and the start-up broadcast of rank 0's weights.
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableParameter } from './adamw.js';

/** The processes of a data-parallel run (structurally @aim/mpi's world communicator). */
export interface DataParallel {
  readonly rank: number;
  readonly size: number;
  /** Sums over all processes, in place. */
  allReduceSum(values: Float32Array | Float64Array): unknown;
  /** Copies `values` from `root` to every process, in place. */
  broadcast(values: Float32Array | Float64Array, root?: number): unknown;
}

/**
 * Micro-batches per process: the step's `accum` micro-batches (the global batch is batchSize x accum whatever the
 * world size) are split into equal consecutive shares, rank r taking `r*share .. (r+1)*share - 1`.
 */
export function microBatchesPerRank(accum: number, size: number): number {
  if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`data parallel: world size ${size}`);
  if (accum % size !== 0) {
    throw new Error(
      `data parallel: --accum ${accum} (micro-batches per step, global batch = --batch-size x --accum) must be a multiple of the ` +
        `world size ${size}, so that every rank computes the same number of micro-batches; use --accum ${Math.max(size, Math.round(accum / size) * size)}`,
    );
  }
  return accum / size;
}

/** Every process takes rank 0's parameter values (one broadcast per parameter). */
export function broadcastParameters(params: readonly TrainableParameter[], comm: DataParallel): void {
  for (const p of params) {
    const values = Float32Array.from(p.variable.dataSync() as Float32Array);
    comm.broadcast(values, 0);
    const t = tf.tensor(values, p.variable.shape, 'float32');
    p.variable.assign(t);
    t.dispose();
  }
}

/** True on every process when any process asks for it (a stop request seen by one rank stops all at the same step). */
export function anyRank(flag: boolean, comm: DataParallel | undefined): boolean {
  if (!comm || comm.size === 1) return flag;
  const v = new Float64Array([flag ? 1 : 0]);
  comm.allReduceSum(v);
  return v[0] > 0;
}
