// safetensors files: header parsing and per-tensor reads through a file handle; streamed, atomic writes.
// References: huggingface/safetensors format (8-byte LE header length, JSON header, raw little-endian data).
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '@aim/base/atomic-file';

/** The most one read or write call moves: Node's file calls refuse lengths over 2^31 - 1. */
const IO_BYTES = 1 << 30;

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Floating dtypes, all readable as float32. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16'];

/** Largest header we accept (the format's own reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

/** Typed values of one tensor as stored (F16/BF16 are returned as float32 by `readFloat32`). */
export type SafetensorsData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

function checkLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors I/O assumes a little-endian host');
}

function isDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && Object.hasOwn(DTYPE_BYTES, x);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A safetensors file opened for reading: the header is parsed once, tensors are read one at a time on demand. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    checkLittleEndian();
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const bad = (why: string): Error => new Error(`${path}: not a valid safetensors file: ${why}`);
      if (size < 8) throw bad(`only ${size} bytes`);
      const lenBuf = Buffer.alloc(8);
      await handle.read(lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
        throw bad(`header length ${headerLen} does not fit a ${size}-byte file`);
      }
      const headerBuf = Buffer.alloc(headerLen);
      await handle.read(headerBuf, 0, headerLen, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch (e) {
        throw bad(`header is not JSON (${(e as Error).message})`);
      }
      if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not an object');
      const dataStart = 8 + headerLen;
      const dataSize = size - dataStart;
      let metadata: Record<string, string> = {};
      const tensors = new Map<string, SafetensorsTensorInfo>();
      for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (entry === null || typeof entry !== 'object') throw bad('__metadata__ is not an object');
          for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
            if (typeof v !== 'string') throw bad(`__metadata__ value '${k}' is not a string`);
          }
          metadata = entry as Record<string, string>;
          continue;
        }
        const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (!isDtype(e.dtype)) throw bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
          throw bad(`tensor '${name}' has a bad shape ${JSON.stringify(e.shape)}`);
        }
        const offs = e.data_offsets;
        if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
          throw bad(`tensor '${name}' has bad data_offsets ${JSON.stringify(offs)}`);
        }
        const [begin, end] = offs as [number, number];
        const expected = numel(e.shape as number[]) * DTYPE_BYTES[e.dtype];
        if (end < begin || end > dataSize || end - begin !== expected) {
          throw bad(`tensor '${name}' data_offsets [${begin}, ${end}] do not hold ${expected} bytes within ${dataSize}`);
        }
        tensors.set(name, {
          name,
          dtype: e.dtype,
          shape: [...(e.shape as number[])],
          offset: dataStart + begin,
          byteLength: expected,
        });
      }
      return new SafetensorsFile(path, handle, Object.freeze(metadata), tensors);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (info === undefined) throw new Error(`${this.path}: no tensor named '${name}'`);
    return info;
  }

  /** The stored bytes of one tensor (its own buffer, 8-byte aligned for typed-array views). */
  async readBytes(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    const buf = new Uint8Array(new ArrayBuffer(info.byteLength));
    let done = 0;
    while (done < info.byteLength) {
      const want = Math.min(info.byteLength - done, IO_BYTES); // Node refuses a read over 2 GiB
      const { bytesRead } = await this.handle.read(buf, done, want, info.offset + done);
      if (bytesRead === 0) throw new Error(`${this.path}: file ended inside tensor '${name}'`);
      done += bytesRead;
    }
    return buf;
  }

  /** One tensor's values in its stored type (F16 and BF16 as raw Uint16Array bits). */
  async read(name: string): Promise<SafetensorsData> {
    const info = this.info(name);
    const bytes = await this.readBytes(name);
    const b = bytes.buffer;
    switch (info.dtype) {
      case 'F64':
        return new Float64Array(b);
      case 'F32':
        return new Float32Array(b);
      case 'F16':
      case 'BF16':
        return new Uint16Array(b);
      case 'I64':
        return new BigInt64Array(b);
      case 'I32':
        return new Int32Array(b);
      case 'I16':
        return new Int16Array(b);
      case 'I8':
        return new Int8Array(b);
      case 'U8':
      case 'BOOL':
        return bytes;
    }
  }

  /** A floating tensor's values converted to float32; non-floating dtypes are an error naming the tensor. */
  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.info(name);
    const data = await this.read(name);
    switch (info.dtype) {
      case 'F32':
        return data as Float32Array;
      case 'F64':
        return Float32Array.from(data as Float64Array);
      case 'F16':
        return halfToFloat32(data as Uint16Array);
      case 'BF16':
        return bfloat16ToFloat32(data as Uint16Array);
      default:
        throw new Error(`${this.path}: tensor '${name}' has dtype ${info.dtype}, expected a floating type`);
    }
  }

  /**
   * One tensor as a tf.Tensor: floating -> float32, integer -> int32 (I64 values must fit), BOOL -> bool.
   * The caller disposes it.
   */
  async readTensor(name: string): Promise<tf.Tensor> {
    const info = this.info(name);
    const shape = [...info.shape];
    if (FLOAT_DTYPES.includes(info.dtype)) return tf.tensor(await this.readFloat32(name), shape, 'float32');
    const data = await this.read(name);
    if (info.dtype === 'BOOL')
      return tf.tensor(
        Uint8Array.from(data as Uint8Array, (x) => (x ? 1 : 0)),
        shape,
        'bool',
      );
    if (info.dtype === 'I64') {
      const out = new Int32Array(data.length);
      (data as BigInt64Array).forEach((v, i) => {
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(`${this.path}: tensor '${name}' holds ${v}, outside the int32 range tfjs supports`);
        }
        out[i] = Number(v);
      });
      return tf.tensor(out, shape, 'int32');
    }
    return tf.tensor(Int32Array.from(data as ArrayLike<number>), shape, 'int32');
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Opens a safetensors file: header now, tensors on demand (never the whole file in one buffer). Close it after use. */
export function readSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}

/** IEEE half -> float32. */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** bfloat16 -> float32 (the upper half of a float32). */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const wide = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
  return new Float32Array(wide.buffer);
}

/** One tensor to write: its bytes are produced only when it is written (so a large model is never all in memory). */
export interface SafetensorsWriteEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: ArrayBufferView | (() => Promise<ArrayBufferView>);
}

/** A write entry that reads a tf.Tensor when written: float32 -> F32, int32 -> I64 (or I32), bool -> BOOL. */
export function tensorEntry(name: string, tensor: tf.Tensor, options: { intAs?: 'I64' | 'I32' } = {}): SafetensorsWriteEntry {
  const shape = [...tensor.shape];
  if (tensor.dtype === 'float32') return { name, dtype: 'F32', shape, data: async () => (await tensor.data()) as Float32Array };
  if (tensor.dtype === 'int32') {
    const as = options.intAs ?? 'I64';
    return {
      name,
      dtype: as,
      shape,
      data: async () => {
        const v = (await tensor.data()) as Int32Array;
        return as === 'I32' ? v : BigInt64Array.from(v, (x) => BigInt(x));
      },
    };
  }
  if (tensor.dtype === 'bool') return { name, dtype: 'BOOL', shape, data: async () => Uint8Array.from(await tensor.data()) };
  throw new Error(`tensor '${name}': cannot write dtype ${tensor.dtype}`);
}

/** What a writer put in a file: its size and the SHA-256 (hex) of its bytes. */
export interface WrittenFile {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Writes a safetensors file tensor by tensor (each entry's data is produced, written and released in turn) to a
 * temporary file beside `path`, then renames it over `path`, so readers never see a half-written file. Returns the
 * file's size and SHA-256, hashed while each tensor's write is in flight (a checkpoint's seal need not read it back).
 */
export async function writeSafetensors(path: string, entries: readonly SafetensorsWriteEntry[], metadata: Record<string, string> = {}): Promise<WrittenFile> {
  checkLittleEndian();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.name === '__metadata__' || e.name.length === 0) throw new Error(`bad tensor name '${e.name}'`);
    if (seen.has(e.name)) throw new Error(`duplicate tensor name '${e.name}'`);
    seen.add(e.name);
    if (!isDtype(e.dtype)) throw new Error(`tensor '${e.name}': unsupported dtype ${String(e.dtype)}`);
    if (!e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`tensor '${e.name}': bad shape [${e.shape}]`);
    const bytes = numel(e.shape) * DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerJson = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (what the reference writer does).
  headerJson += ' '.repeat((8 - ((Buffer.byteLength(headerJson) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const hash = createHash('sha256');
  let bytes = 0;
  const write = async (handle: FileHandle, chunk: Uint8Array): Promise<void> => {
    // In pieces of at most IO_BYTES (Node refuses a write over 2 GiB), finishing short writes; each piece is hashed
    // while its write runs on libuv's thread pool (hashing only reads the bytes).
    for (let start = 0; start < chunk.byteLength; start += IO_BYTES) {
      const piece = chunk.subarray(start, Math.min(start + IO_BYTES, chunk.byteLength));
      const pending = handle.write(piece);
      hash.update(piece);
      for (let done = (await pending).bytesWritten; done < piece.byteLength; ) {
        done += (await handle.write(piece, done, piece.byteLength - done)).bytesWritten;
      }
    }
    bytes += chunk.byteLength;
  };
  await writeFileAtomic(path, async (handle) => {
    await write(handle, lenBytes);
    await write(handle, headerBytes);
    for (const e of entries) {
      const view = typeof e.data === 'function' ? await e.data() : e.data;
      const expected = numel(e.shape) * DTYPE_BYTES[e.dtype];
      if (view.byteLength !== expected) {
        throw new Error(`tensor '${e.name}': data has ${view.byteLength} bytes, ${e.dtype} [${e.shape}] needs ${expected}`);
      }
      await write(handle, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    }
  });
  return { bytes, sha256: hash.digest('hex') };
}
