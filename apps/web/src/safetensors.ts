// Reads a safetensors file held in memory (an ArrayBuffer from fetch or a File), for the browser: header, metadata,
// tensors as Float32Array views or copies. Errors name the file and what is wrong with it.
// Reference: huggingface/safetensors format (8-byte little-endian header length, JSON header, raw data).

export interface TensorInfo {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsBuffer {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The tensor's values as float32 (F32 as stored, F16 and BF16 widened); throws for other dtypes. */
  float32(name: string): Float32Array;
}

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Parses `buffer` as safetensors; `name` is used in error messages. */
export function parseSafetensors(buffer: ArrayBuffer, name = 'file'): SafetensorsBuffer {
  const fail = (why: string): never => {
    throw new Error(`${name}: not a valid safetensors file: ${why}`);
  };
  if (buffer.byteLength < 8) fail(`${buffer.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength < 2 || 8 + headerLength > buffer.byteLength) {
    fail(`header length ${headerLength} does not fit in ${buffer.byteLength} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(buffer, 8, headerLength)));
  } catch (e) {
    fail(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = buffer.byteLength - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== 'object' || v === null) fail(`entry '${key}' is not an object`);
    const dtype = String(v.dtype);
    if (!(dtype in BYTES)) fail(`tensor '${key}' has unknown dtype ${dtype}`);
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${key}' has a bad shape`);
    const offsets = v.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(`tensor '${key}' has no data_offsets`);
    const [begin, end] = offsets as number[];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(end) && 0 <= begin && begin <= end && end <= dataLength)) {
      fail(`tensor '${key}' data [${begin}, ${end}) lies outside the ${dataLength} data bytes`);
    }
    if (end - begin !== count * BYTES[dtype]) fail(`tensor '${key}' has ${end - begin} bytes for ${count} ${dtype} values`);
    tensors.set(key, { dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  return {
    metadata,
    tensors,
    float32(tensorName: string): Float32Array {
      const t = tensors.get(tensorName);
      if (!t) throw new Error(`${name}: missing tensor '${tensorName}'`);
      const count = (t.end - t.begin) / BYTES[t.dtype];
      if (t.dtype === 'F32') {
        // Copy: the data section need not be 4-byte aligned relative to the buffer.
        return new Float32Array(buffer.slice(t.begin, t.end));
      }
      if (t.dtype === 'F16' || t.dtype === 'BF16') {
        const out = new Float32Array(count);
        const dv = new DataView(buffer, t.begin, t.end - t.begin);
        const bits = new Uint32Array(1);
        const asFloat = new Float32Array(bits.buffer);
        for (let i = 0; i < count; i++) {
          const h = dv.getUint16(2 * i, true);
          if (t.dtype === 'F16') out[i] = f16ToF32(h);
          else {
            bits[0] = h << 16;
            out[i] = asFloat[0];
          }
        }
        return out;
      }
      throw new Error(`${name}: tensor '${tensorName}' is ${t.dtype}, expected a float tensor`);
    },
  };
}
