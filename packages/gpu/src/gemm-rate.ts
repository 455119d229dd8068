// GEMM throughput of kernel configurations on the device: many dispatches in one submit, timed to completion.
import { type GemmTile, gemm } from './kernels/gemm.js';
import { type BufferDesc, type Dispatch, ProgramBuilder } from './program.js';
import { Runtime } from './runtime.js';

/** The clock of browsers and Node alike (this package builds without the DOM's or Node's types). */
declare const performance: { now(): number };

export interface GemmShape {
  readonly label: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
}

/** A program computing `shape` once per tile, every dispatch on the same operands. */
function program(shape: GemmShape, tiles: readonly GemmTile[]): { pb: ProgramBuilder; a: BufferDesc; b: BufferDesc; ops: Dispatch[] } {
  const { m, n, k } = shape;
  const pb = new ProgramBuilder();
  const a = pb.buffer('A', m * k, 'io');
  const b = pb.buffer('B', k * n, 'io');
  const c = pb.buffer('C', m * n, 'io');
  const ops = tiles.map((tile) =>
    gemm(pb, {
      m,
      n,
      k,
      transA: shape.transA,
      transB: shape.transB,
      tile,
      a: { buf: a, ld: shape.transA ? m : k },
      b: { buf: b, ld: shape.transB ? k : n },
      c: { buf: c, ld: n },
    }),
  );
  return { pb, a, b, ops };
}

/**
 * TFLOP/s of `shape` with each of `tiles`: for each, the best of three timed rounds of as many dispatches in one submit
 * as take about `minSeconds` / 3. The operands are allocated and uploaded once for all the tiles (at a training step's
 * sizes they are hundreds of MB). A tile Dawn refuses rates NaN; if any is refused, each is then rated on its own so
 * that the others still get a rate.
 */
export async function gemmRates(device: GPUDevice, shape: GemmShape, tiles: readonly GemmTile[], minSeconds = 0.3): Promise<number[]> {
  const { pb, a, b, ops } = program(shape, tiles);
  device.pushErrorScope('validation');
  let rt: Runtime | undefined;
  let thrown: unknown;
  try {
    rt = new Runtime(device, pb);
  } catch (e) {
    thrown = e;
  }
  const err = await device.popErrorScope();
  if (err || thrown || !rt) {
    rt?.destroy();
    if (tiles.length === 1) throw err ? new Error(`gemm ${JSON.stringify(tiles[0])}: ${err.message}`) : thrown;
    const alone: number[] = [];
    for (const t of tiles) alone.push(await gemmRate(device, shape, t, minSeconds).catch(() => NaN));
    return alone;
  }
  try {
    rt.write(a, new Float32Array(a.bytes / 4).fill(0.5));
    rt.write(b, new Float32Array(b.bytes / 4).fill(0.25));
    const flops = 2 * shape.m * shape.n * shape.k;
    const rates: number[] = [];
    for (const op of ops) {
      const runtime = rt;
      const time = async (reps: number): Promise<number> => {
        const t0 = performance.now();
        runtime.submit(Array.from({ length: reps }, () => op));
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
      rates.push((flops * reps) / best / 1e12);
    }
    return rates;
  } finally {
    rt.destroy();
  }
}

/** TFLOP/s of `shape` with `tile` (gemmRates of one tile); throws with Dawn's message if Dawn refuses the tile. */
export async function gemmRate(device: GPUDevice, shape: GemmShape, tile: GemmTile, minSeconds = 0.3): Promise<number> {
  const [rate] = await gemmRates(device, shape, [tile], minSeconds);
  return rate;
}
