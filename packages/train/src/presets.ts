// Named training presets: the built-in demo, a smoke test, and the paper's recipes (global batch 4096 by accumulation).
// References: El-Nouby et al. 2024 (AIM), section 4 and appendix; apple/ml-l3m configs/aimv1.
import type { TrainConfig } from './config-fields.js';

export interface Preset {
  readonly name: string;
  /** The command that runs it. */
  readonly command: string;
  /** What that command should print (the shape of the output, not exact numbers). */
  readonly prints: string;
  readonly values: Partial<TrainConfig>;
}

/** The paper's optimiser and schedule settings: the defaults of every config, restated by the paper presets. */
export const PAPER_OPTIMISER = Object.freeze({
  lr: 1e-3,
  warmupFraction: 0.025,
  warmupStartLr: 1e-6,
  finalLr: 0,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clipNorm: 1.0,
} satisfies Partial<TrainConfig>);

const preset = (p: Preset): Preset => Object.freeze({ ...p, values: Object.freeze(p.values) });

/** Paper presets use DFN-2B+ (not available offline), so they require --data; batch 4096 = batchSize * accum. */
const paper = (name: string, steps: number, batchSize: number): Preset =>
  preset({
    name,
    command: `npx nx run trainer:train -- --preset ${name} --data '/data/dfn2b+/{000000..199999}.tar' --val-data '/data/in1k-val/{0000..0049}.tar'`,
    prints:
      `the resolved config (variant ${name}, steps ${steps}, global batch 4096 = ${batchSize} x ${4096 / batchSize}), ` +
      'the backend chosen, then a progress line per step and a validation loss every 5000 steps',
    values: {
      variant: name,
      data: '',
      valData: '',
      steps,
      batchSize,
      accum: 4096 / batchSize,
      // Web-scale data under MPI: each rank reads only its own shards, not the whole stream.
      dataSplit: 'shards',
      ...PAPER_OPTIMISER,
      workers: 16,
      prefetch: 8,
      saveEvery: 5000,
      keep: 3,
      valEvery: 5000,
      valBatches: 50,
      logEvery: 50,
    },
  });

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  demo: preset({
    name: 'demo',
    command: 'npx nx run trainer:train',
    prints:
      'MNIST shard conversion progress (first run only, under a minute), the resolved config, "backend: wasm (...)", ' +
      'a progress line (step, loss, val, lr, img/s, ETA) with the train loss falling from ~1.7 to ~0.3 in 1500 steps ' +
      '(~3 minutes on 2 idle cores), validation loss every 250 steps (~0.46 at 250, ~0.28 at 1500), checkpoints every 500, ' +
      'and a summary naming runs/demo-<time>/ with metrics.jsonl, loss-curve.svg and checkpoints/',
    values: { variant: 'aim-dev-tiny', data: 'mnist', valData: 'mnist', steps: 1500, batchSize: 32, saveEvery: 500, valEvery: 250, logEvery: 50 },
  }),
  smoke: preset({
    name: 'smoke',
    command: 'npx nx run trainer:train -- --preset smoke',
    prints: 'the resolved config, 20 steps of the tiny variant on MNIST in well under a minute, one validation loss and a summary',
    values: { variant: 'aim-dev-tiny', data: 'mnist', valData: 'mnist', steps: 20, batchSize: 8, saveEvery: 10, valEvery: 0, valBatches: 2, logEvery: 5 },
  }),
  'aim-600M': paper('aim-600M', 500_000, 64),
  'aim-1B': paper('aim-1B', 1_200_000, 32),
  'aim-3B': paper('aim-3B', 1_200_000, 16),
  'aim-7B': paper('aim-7B', 1_200_000, 8),
});
