// Tunes the GEMM tiles of an engine's program on the device it will run on: each candidate tile first computes
// products against the reference (a tile that is fast and wrong is never timed), then every candidate is timed on the
// program's largest GEMM, and the fastest few, with the tile the engine would pick without tuning, on each of its
// other GEMMs. Each GEMM keeps its fastest tile, so a tuned GEMM is never slower than the untuned one by more than the
// timing noise. An f32 tile changes how the work is spread over the GPU, not the order in which any output's products
// are summed: tuned or not, a step computes the same bits.
import { type GemmShape, gemmRates } from './gemm-rate.js';
import { GEMM_TILES, type GemmTile, defaultTile, gemmTileKey, gemmWorkgroupBytes } from './kernels/gemm.js';
import { TILE_CANDIDATES, tileName } from './tile-candidates.js';
import { TILE_CHECK_TOLERANCE, checkTile } from './tile-check.js';

export interface TileTuningOptions {
  /** The tiles to choose from (default TILE_CANDIDATES). */
  readonly candidates?: readonly GemmTile[];
  /** How many of the fastest on the largest GEMM are timed on the others (default 8). */
  readonly finalists?: number;
  /** Seconds of timed dispatches per tile and GEMM (default 0.05; three rounds of a third each). */
  readonly seconds?: number;
  /** The engine's tile for large GEMMs (EngineOptions.gemmTile; default GEMM_TILES.large), the untuned baseline. */
  readonly largeTile?: GemmTile;
  /** Check the candidates on small products (a software adapter, where large ones take minutes). */
  readonly smallChecks?: boolean;
  /** Progress, a line at a time. */
  readonly log?: (line: string) => void;
}

export interface TileTuning {
  /** Each GEMM's fastest tile, by `gemmTileKey`: EngineOptions.gemmTiles. */
  readonly tiles: Map<string, GemmTile>;
  /** Every rate measured. */
  readonly rates: readonly { readonly key: string; readonly tile: GemmTile; readonly tflops: number }[];
  /** Candidates left out before timing, and why. */
  readonly rejected: readonly { readonly tile: GemmTile; readonly why: string }[];
}

/** Why `t` cannot run on `device` (its workgroup memory), or undefined when it can. */
export function tileUnfit(device: GPUDevice, t: GemmTile): string | undefined {
  const bytes = gemmWorkgroupBytes(t);
  const limit = device.limits.maxComputeWorkgroupStorageSize;
  return bytes > limit ? `needs ${bytes} B of workgroup memory, the device allows ${limit}` : undefined;
}

/** `candidates` split into those that fit the device and pass the reference check (`checkTile`) and the others, with why. */
export async function checkedTiles(
  device: GPUDevice,
  candidates: readonly GemmTile[],
  smallChecks: boolean,
): Promise<{ passed: GemmTile[]; rejected: { tile: GemmTile; why: string }[] }> {
  const passed: GemmTile[] = [];
  const rejected: { tile: GemmTile; why: string }[] = [];
  for (const tile of candidates) {
    const unfit = tileUnfit(device, tile);
    if (unfit) {
      rejected.push({ tile, why: unfit });
      continue;
    }
    const { error, on } = await checkTile(device, tile, smallChecks);
    if (error <= TILE_CHECK_TOLERANCE) passed.push(tile);
    else rejected.push({ tile, why: `error ${error.toExponential(2)} on ${on} (allowed ${TILE_CHECK_TOLERANCE})` });
  }
  return { passed, rejected };
}

const flopsOf = (s: GemmShape): number => s.m * s.n * s.k;
const rate = (tflops: number): string => `${tflops >= 1 ? tflops.toFixed(2) : tflops.toPrecision(2)} TFLOP/s`;

/** Tunes `shapes` (an engine program's `gemmShapes`) on `device`; see the top of this file. */
export async function tuneGemmTiles(device: GPUDevice, shapes: Iterable<GemmShape>, options: TileTuningOptions = {}): Promise<TileTuning> {
  const log = options.log ?? (() => {});
  const seconds = options.seconds ?? 0.05;
  const large = options.largeTile ?? GEMM_TILES.large;
  const { passed, rejected } = await checkedTiles(device, options.candidates ?? TILE_CANDIDATES, options.smallChecks === true);
  for (const r of rejected) log(`  ${tileName(r.tile)}: left out: ${r.why}`);

  const byKey = new Map<string, GemmShape>();
  for (const s of shapes) if (!byKey.has(gemmTileKey(s))) byKey.set(gemmTileKey(s), s);
  const order = [...byKey.entries()].sort(([, x], [, y]) => flopsOf(y) - flopsOf(x));
  const rates: { key: string; tile: GemmTile; tflops: number }[] = [];
  const tiles = new Map<string, GemmTile>();
  let timed: GemmTile[] = passed;
  for (const [i, [key, shape]] of order.entries()) {
    const untuned = defaultTile(shape.m, shape.n, 1, large);
    const set = timed.includes(untuned) ? timed : [untuned, ...timed];
    let got: number[];
    try {
      got = await gemmRates(device, shape, set, seconds);
    } catch (err) {
      log(`  ${key} (${shape.m} x ${shape.n} x ${shape.k}): not tuned: ${(err as Error).message}`);
      continue;
    }
    set.forEach((tile, j) => rates.push({ key, tile, tflops: got[j] }));
    const ranked = set
      .map((tile, j) => ({ tile, tflops: got[j] }))
      .filter((r) => Number.isFinite(r.tflops))
      .sort((x, y) => y.tflops - x.tflops);
    if (ranked.length === 0) continue;
    tiles.set(key, ranked[0].tile);
    const base = got[set.indexOf(untuned)];
    log(`  ${key} (${shape.m} x ${shape.n} x ${shape.k}): ${tileName(ranked[0].tile)} ${rate(ranked[0].tflops)}; untuned ${tileName(untuned)} ${rate(base)}`);
    // The largest GEMM ranks every candidate; the others time only its fastest few.
    if (i === 0) timed = ranked.slice(0, options.finalists ?? 8).map((r) => r.tile);
  }
  return { tiles, rates, rejected };
}
