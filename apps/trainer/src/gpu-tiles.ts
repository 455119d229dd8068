// --gpu-tiles: GEMM tiles tuned on this GPU by the engine's benchmark (`npx nx run gpu:bench -- --sweep --tiles-out
// <file>`), read and checked before the engine is built. An f32 tile changes how the work is spread over the GPU, not
// the order in which any output's products are summed, so a run computes the same with the file or without it.
import { readFileSync } from 'node:fs';
import { type GemmTile, parseGemmTiles } from '@aim/gpu';
import { ConfigError } from '@aim/train';

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
    throw new ConfigError(`${source}: f16 subgroup-matrix tiles (${f16.join(', ')}): the trainer runs f32 tiles only (it has no dynamic loss scaling yet)`);
  }
  return parsed;
}
