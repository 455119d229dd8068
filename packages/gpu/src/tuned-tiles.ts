// The file of tuned GEMM tiles: the benchmark's per-shape sweep on one GPU (`npx nx run gpu:bench -- --sweep
// --tiles-out <file>`), read back by whoever builds an engine on that GPU (--gpu-tiles of the trainer and the eval
// app). Keys are `gemmTileKey`s, the dimensions that do not grow with the batch, so tiles tuned at one micro-batch
// apply at another.
import { type GemmTile, checkGemmTile } from './kernels/gemm.js';

export const GEMM_TILES_FORMAT = 'aim-gemm-tiles/1';

export interface GemmTilesFile {
  readonly format: typeof GEMM_TILES_FORMAT;
  /** The adapter the tiles were tuned on, as the benchmark described it. */
  readonly adapter: string;
  readonly tiles: Readonly<Record<string, GemmTile>>;
}

export function gemmTilesFile(tiles: ReadonlyMap<string, GemmTile>, adapter: string): GemmTilesFile {
  return { format: GEMM_TILES_FORMAT, adapter, tiles: Object.fromEntries(tiles) };
}

const KEY = /^(?:(?:NN|NT) n\d+ k\d+|TN m\d+ n\d+)$/;
const SIZES = ['bm', 'bn', 'bk', 'tm', 'tn'] as const;
const FLAGS = ['prefetch', 'vec4', 'doubleBuffer', 'vec4Loads'] as const;
const MATRIX = ['m', 'n', 'k', 'subgroupSize'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;

/** The tiles of a parsed tiles file; `source` (its path) starts every error message. */
export function parseGemmTiles(value: unknown, source: string): { adapter: string; tiles: Map<string, GemmTile> } {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (!isObject(value) || value.format !== GEMM_TILES_FORMAT) fail(`not a GEMM tiles file (expected "format": "${GEMM_TILES_FORMAT}")`);
  const file = value as Record<string, unknown>;
  if (!isObject(file.tiles)) fail('"tiles" must be an object of tiles by GEMM key');
  const tiles = new Map<string, GemmTile>();
  for (const [key, t] of Object.entries(file.tiles as Record<string, unknown>)) {
    const at = `tile "${key}"`;
    if (!KEY.test(key)) fail(`${at}: the key must look like "NN n768 k768", "NT n3072 k768" or "TN m768 n3072"`);
    if (!isObject(t)) fail(`${at} must be an object`);
    const tile = t as Record<string, unknown>;
    for (const f of SIZES) if (!isSize(tile[f])) fail(`${at}: ${f} must be a positive integer, got ${JSON.stringify(tile[f])}`);
    for (const f of FLAGS) if (tile[f] !== undefined && typeof tile[f] !== 'boolean') fail(`${at}: ${f} must be true or false`);
    if (tile.matrix !== undefined) {
      const mx = tile.matrix;
      if (!isObject(mx) || !MATRIX.every((f) => isSize(mx[f]))) fail(`${at}: matrix must be { m, n, k, subgroupSize } of positive integers`);
    }
    const unknown = Object.keys(tile).filter((f) => ![...SIZES, ...FLAGS, 'matrix'].includes(f));
    if (unknown.length > 0) fail(`${at}: unknown field(s) ${unknown.join(', ')}`);
    try {
      checkGemmTile(tile as unknown as GemmTile);
    } catch (err) {
      fail(`${at}: ${(err as Error).message}`);
    }
    tiles.set(key, tile as unknown as GemmTile);
  }
  return { adapter: typeof file.adapter === 'string' ? file.adapter : 'an unnamed adapter', tiles };
}
