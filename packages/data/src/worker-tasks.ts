// Decode tasks on the Piscina pool. A task whose worker throws or dies is retried once, alone in a one-thread pool:
// a dying thread fails every task it holds, and the retry must not be failed again by a neighbour that kills its
// thread a second time.
import type { Piscina } from 'piscina';
import { createPool } from './pool.js';
import type { SampleResult, SampleTask } from './process.js';

export interface WorkerTasksOptions {
  readonly workers: number;
  readonly tasksPerWorker: number;
  /** Worker module to run instead of the built-in one. */
  readonly workerFile?: string | URL;
  /** Whether the loader has closed: task failures and stray pool errors are expected then, not reported. */
  readonly closed: () => boolean;
}

/** What a task came to: the worker's result, or a failure of both attempts. */
export type TaskResult = SampleResult | { ok: false; reason: 'worker_error'; message: string };

export class WorkerTasks {
  private pool: Piscina | undefined;
  private retries: Piscina | undefined;
  private destroying: Promise<void> | undefined;
  private readonly poolOptions: { workerFile?: string | URL; onError: (err: Error) => void };

  constructor(private readonly options: WorkerTasksOptions) {
    this.poolOptions = {
      ...(options.workerFile ? { workerFile: options.workerFile } : {}),
      // Stray worker messages while the pools shut down are expected; any other pool error is reported.
      onError: (err: Error) => {
        if (!options.closed()) process.emitWarning(`@aim/data worker pool: ${err.message}`);
      },
    };
  }

  /** Starts the worker threads (when iteration begins, not when the loader is built). */
  start(): void {
    this.pool = createPool({ workers: this.options.workers, tasksPerWorker: this.options.tasksPerWorker, ...this.poolOptions });
  }

  /** Runs `task`, retrying once on a worker failure. Rejects only once the loader has closed. */
  async run(task: SampleTask): Promise<TaskResult> {
    let lastError = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const target = attempt === 0 ? this.pool! : this.retryPool();
      try {
        return (await target.run(task)) as SampleResult;
      } catch (err) {
        if (this.options.closed()) throw err;
        lastError = (err as Error).message;
      }
    }
    return { ok: false, reason: 'worker_error', message: `worker failed twice: ${lastError}` };
  }

  private retryPool(): Piscina {
    this.retries ??= createPool({ workers: 1, tasksPerWorker: 1, ...this.poolOptions });
    return this.retries;
  }

  /** Terminates both pools (once; later calls return the same promise). */
  destroy(): Promise<void> {
    this.destroying ??= Promise.all([this.pool?.destroy(), this.retries?.destroy()]).then(() => undefined);
    return this.destroying;
  }
}
