// --gpu-tiles (trainer:train, eval:probe, eval:features): GEMM tiles tuned on this GPU by the engine's benchmark
// (`npx nx run gpu:bench -- --sweep --tiles-out <file>`), read and checked before the engine is built. An f32 tile
// changes how the work is spread over the GPU, not the order in which any output's products are summed, so a run
// computes the same with the file or without it.
import { readFileSync } from 'node:fs';
import { type GemmTile, parseGemmTiles } from '@aim/gpu';
import { ConfigError } from './config-values.js';

/** Reads a tuned-tiles file; what is wrong with it is a ConfigError naming the file (a usage error in every CLI). */
export function readGpuTiles(path: string): { adapter: string; tiles: Map<string, GemmTile> } {
  const source = `--gpu-tiles ${path}`;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${source}: ${e.code ? `cannot read it (${e.code})` : `not JSON (${e.message})`}`);
  }
  let parsed: ReturnType<typeof parseGemmTiles>;
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

/**
 * The log line of a run given --gpu-tiles `path`: the tiles it builds the engine with (with `used`, how many of the
 * file's shapes the engine's GEMMs have), or that it does not use them.
 */
export function gpuTilesLine(path: string, tuned: { adapter: string; tiles: ReadonlyMap<string, GemmTile> }, engineComputes: boolean, used?: number): string {
  if (!engineComputes) return `--gpu-tiles ${path}: not used (the WebGPU engine is not computing)`;
  const line = `engine: tuned tiles for ${tuned.tiles.size} GEMM shapes from ${path} (tuned on ${tuned.adapter})`;
  if (used === undefined) return line;
  return used > 0 ? `${line}; ${used} of them occur in this model` : `${line}; none of them occurs in this model (tuned for another variant?): default tiles`;
}
