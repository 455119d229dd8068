// GEMM throughput of one kernel configuration on the device: many dispatches in one submit, timed to completion.
import { type GemmTile, gemm } from '../src/kernels/gemm.js';
import { ProgramBuilder } from '../src/program.js';
import { Runtime } from '../src/runtime.js';

export interface GemmShape {
  readonly label: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}

/** TFLOP/s of `shape` with `tile`: the best of a few timed rounds, each `reps` dispatches in one submit. */
export async function gemmRate(device: GPUDevice, shape: GemmShape, tile: GemmTile, minSeconds = 0.3): Promise<number> {
  const { m, n, k } = shape;
  const pb = new ProgramBuilder();
  const a = pb.buffer('A', m * k, 'io');
  const b = pb.buffer('B', k * n, 'io');
  const c = pb.buffer('C', m * n, 'io');
  const op = gemm(pb, {
    m,
    n,
    k,
    transA: shape.transA,
    transB: shape.transB,
    tile,
    a: { buf: a, ld: shape.transA ? m : k },
    b: { buf: b, ld: shape.transB ? k : n },
    c: { buf: c, ld: n },
  });
  device.pushErrorScope('validation');
  const rt = new Runtime(device, pb);
  const err = await device.popErrorScope();
  if (err) {
    rt.destroy();
    throw new Error(`gemm ${JSON.stringify(tile)}: ${err.message}`);
  }
  try {
    rt.write(a, new Float32Array(m * k).fill(0.5));
    rt.write(b, new Float32Array(k * n).fill(0.25));
    const flops = 2 * m * n * k;
    const time = async (reps: number): Promise<number> => {
      const t0 = performance.now();
      rt.submit(Array.from({ length: reps }, () => op));
      await device.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / 1000;
    };
    await time(1); // compile and warm up
    let reps = 1;
    let seconds = await time(reps);
    while (seconds < minSeconds / 3 && reps < 4096) {
      reps *= 2;
      seconds = await time(reps);
    }
    let best = seconds;
    for (let i = 0; i < 2; i++) best = Math.min(best, await time(reps));
    rt.checkDevice(); // a dispatch that failed validation did nothing, fast: not a rate
    return (flops * reps) / best / 1e12;
  } finally {
    rt.destroy();
  }
}
