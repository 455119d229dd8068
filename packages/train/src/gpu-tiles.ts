// --gpu-tiles (trainer:train, eval:probe, eval:features): the GEMM tiles the engine runs with.
// - a file: tiles tuned on this GPU by the engine's benchmark (`npx nx run gpu:bench -- --sweep --tiles-out <file>`),
//   read and checked before anything runs;
// - 'auto': the engine's own GEMMs tuned on the device the run has (@aim/gpu tuneGemmTiles), kept in a file per
//   adapter under the cache folder, so that the next run of the same model on the same GPU reads them instead of
//   tuning; a new model's GEMMs are tuned and added to the file.
// An f32 tile changes how the work is spread over the GPU, not the order in which any output's products are summed, so
// a run computes the same with tuned tiles or without them.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '@aim/base/atomic-file';
import { type AimEngine, type GemmShape, type GemmTile, TILE_CANDIDATES, gemmTilesFile, parseGemmTiles, tuneGemmTiles } from '@aim/gpu';
import type { EngineDevice } from './compute.js';
import { ConfigError } from './config-values.js';

/** The --gpu-tiles value that tunes on the run's own device. */
export const AUTO_GPU_TILES = 'auto';

/** Candidates on a software adapter, where each kernel takes seconds to compile and the timings say nothing of a GPU. */
const SOFTWARE_CANDIDATES = 2;

interface TunedTiles {
  readonly adapter: string;
  readonly tiles: Map<string, GemmTile>;
}

/** Reads a tuned-tiles file; what is wrong with it is a ConfigError naming `source` (a usage error in every CLI). */
function readTilesFile(path: string, source: string): TunedTiles {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${source}: ${e.code ? `cannot read it (${e.code})` : `not JSON (${e.message})`}`);
  }
  let parsed: TunedTiles;
  try {
    parsed = parseGemmTiles(json, source);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const f16 = [...parsed.tiles.keys()].filter((key) => parsed.tiles.get(key)!.matrix);
  if (f16.length > 0) {
    throw new ConfigError(
      `${source}: f16 subgroup-matrix tiles (${f16.join(', ')}) are for the bench only: training and feature extraction run f32 tiles ` +
        '(the f16 path has not been checked on a GPU yet)',
    );
  }
  return parsed;
}

/** --gpu-tiles of one run: the tiles for each engine it builds, and the log lines that say which. */
export interface GpuTiles {
  /** The tiles for an engine whose program has `shapes` (EngineProgram.gemmShapes) on `on`. */
  tilesFor(on: EngineDevice, shapes: ReadonlyMap<string, GemmShape>): Promise<ReadonlyMap<string, GemmTile>>;
  /** The line that says the flag does nothing: no engine computes. */
  unusedLine(): string;
  /** The line that says which tiles `engine` (built with tilesFor's) runs. */
  usedLine(engine: AimEngine): string;
}

/**
 * --gpu-tiles `value` (empty: undefined). A file is read and checked now, so a bad one is a usage error before
 * anything runs; 'auto' keeps its tiles in `<cacheDir>/gpu-tiles/`. `log` gets the tuning's progress.
 */
export function openGpuTiles(value: string | undefined, cacheDir: string, log: (line: string) => void): GpuTiles | undefined {
  if (!value) return undefined;
  const unusedLine = () => `--gpu-tiles ${value}: not used (the WebGPU engine is not computing)`;
  if (value !== AUTO_GPU_TILES) {
    let file: TunedTiles;
    try {
      file = readTilesFile(value, `--gpu-tiles ${value}`);
    } catch (err) {
      // A missing file may be a mistyped 'auto'.
      if (/\(ENOENT\)$/.test((err as Error).message)) throw new ConfigError(`${(err as Error).message}: it takes '${AUTO_GPU_TILES}' or a file of tuned tiles`);
      throw err;
    }
    return {
      tilesFor: async () => file.tiles,
      unusedLine,
      usedLine: (engine) => {
        const line = `engine: tuned tiles for ${file.tiles.size} GEMM shapes from ${value} (tuned on ${file.adapter})`;
        const used = engine.program.tunedTileKeys.size;
        return used > 0
          ? `${line}; ${used} of them occur in this model`
          : `${line}; none of them occurs in this model (tuned for another variant?): default tiles`;
      },
    };
  }
  let source = '';
  let known = new Map<string, GemmTile>();
  // Only this model's GEMMs reach its engine.
  const pick = (shapes: ReadonlyMap<string, GemmShape>) => new Map([...shapes.keys()].filter((k) => known.has(k)).map((k) => [k, known.get(k)!]));
  return {
    tilesFor: async (on, shapes) => {
      // A command building several engines of one model (eval:probe: one per data set) reads the file once.
      if ([...shapes.keys()].some((k) => !known.has(k))) ({ path: source, tiles: known } = await autoTiles(on, shapes, join(cacheDir, 'gpu-tiles'), log));
      return pick(shapes);
    },
    unusedLine,
    usedLine: (engine) => `engine: GEMM tiles tuned on this device for ${engine.program.tunedTileKeys.size} of its GEMMs (--gpu-tiles auto, kept in ${source})`,
  };
}

/** A file name for the adapter: its description with what a file name cannot hold replaced. */
const fileNameOf = (adapter: string): string =>
  `${
    adapter
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 120) || 'adapter'
  }.json`;

/**
 * --gpu-tiles auto: every tile of the adapter's file in `folder`, with `shapes` it lacks tuned on the device and
 * added (written atomically: concurrent runs, such as MPI ranks, each leave a whole file). An unreadable file is
 * tuned anew and replaced, saying why.
 */
async function autoTiles(
  on: EngineDevice,
  shapes: ReadonlyMap<string, GemmShape>,
  folder: string,
  log: (line: string) => void,
): Promise<{ path: string; tiles: Map<string, GemmTile> }> {
  const path = join(folder, fileNameOf(on.adapter));
  let known = new Map<string, GemmTile>();
  try {
    known = readTilesFile(path, path).tiles;
  } catch (err) {
    if (!/cannot read it \(ENOENT\)/.test((err as Error).message)) log(`--gpu-tiles auto: ${(err as Error).message}; tuning anew`);
  }
  const missing = [...shapes].filter(([key]) => !known.has(key)).map(([, shape]) => shape);
  if (missing.length === 0) {
    log(`--gpu-tiles auto: the ${shapes.size} GEMMs of this model were tuned on this adapter before (${path})`);
    return { path, tiles: known };
  }
  const candidates = on.software ? TILE_CANDIDATES.slice(0, SOFTWARE_CANDIDATES) : TILE_CANDIDATES;
  log(
    `--gpu-tiles auto: tuning ${missing.length} of this model's ${shapes.size} GEMMs among ${candidates.length} tiles on ${on.adapter}` +
      (on.software ? ' (a software adapter: a rehearsal among the first tiles; its timings say nothing of a GPU)' : ''),
  );
  const t0 = performance.now();
  const tuning = await tuneGemmTiles(on.device, missing, { candidates, smallChecks: on.software, log });
  const all = new Map([...known, ...tuning.tiles]);
  mkdirSync(folder, { recursive: true });
  writeFileAtomicSync(path, `${JSON.stringify(gemmTilesFile(all, on.adapter), null, 2)}\n`);
  log(`--gpu-tiles auto: tuned in ${((performance.now() - t0) / 1000).toFixed(1)} s; kept in ${path} for the next run on this adapter`);
  return { path, tiles: all };
}
