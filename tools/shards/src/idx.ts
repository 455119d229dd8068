// Read IDX files (the MNIST format), raw or gzip-compressed.
// References: http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE MNIST DATABASE").
import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const gunzipAsync = promisify(gunzip);

/** IDX element types by their type code. */
const IDX_TYPES: Record<number, { name: IdxType; bytes: number }> = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'byte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
};

export type IdxType = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

/** A parsed IDX file: element type, dimensions, and the raw (big-endian) element bytes. */
export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: Uint8Array;
}

/** Parse IDX bytes (already decompressed). `name` is used in error messages. */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${name}: not an IDX file (the first two bytes must be zero)`);
  }
  const type = IDX_TYPES[bytes[2]];
  if (!type) throw new Error(`${name}: unknown IDX element type code 0x${bytes[2].toString(16)}`);
  const rank = bytes[3];
  if (rank === 0) throw new Error(`${name}: IDX file declares zero dimensions`);
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) throw new Error(`${name}: IDX header is truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1) * type.bytes;
  const actual = bytes.length - headerSize;
  if (actual !== expected) {
    throw new Error(
      `${name}: IDX dims [${dims.join(', ')}] of ${type.name} need ${expected} data bytes but the file has ${actual}` +
        (actual < expected ? ' (truncated?)' : ''),
    );
  }
  return { type: type.name, dims, data: bytes.subarray(headerSize) };
}

/** Read an IDX file from disk; gzip-compressed files (e.g. `train-images-idx3-ubyte.gz`) are detected by content. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read IDX file ${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new Error(`${path}: looks gzip-compressed but does not decompress (${(error as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}
