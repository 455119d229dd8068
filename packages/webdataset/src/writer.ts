// ShardWriter: write samples into numbered POSIX tar shards, each moved into place atomically when complete.
// References: webdataset (Python) writer.ShardWriter / TarWriter; POSIX.1-2001 ustar + pax.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AtomicFile } from '@aim/base/atomic-file';
import { isMetaMember } from './sample.js';
import { BLOCK, encodeFileHeader, paddingFor } from './tar/format.js';

/** A value a sample member may hold: bytes as they are; strings as UTF-8; numbers as decimal text; objects as JSON. */
export type MemberValue = Uint8Array | string | number | object;

/**
 * A sample to write. Fields starting with `__` (like `__url__` of a read sample) are metadata and are not written,
 * so samples read with readSamples can be written back unchanged. `undefined` fields are skipped.
 */
export type WritableSample = { __key__: string; [ext: string]: MemberValue | undefined };

export interface ShardWriterOptions {
  /** Output path with one printf-style integer directive for the shard number, e.g. `out/train-%06d.tar`. */
  pattern: string;
  /** Most samples per shard. Default 100000. */
  maxCount?: number;
  /** Most bytes per shard (tar bytes: headers, data, padding). A single bigger sample still gets its own shard. Default 3e9. */
  maxSize?: number;
  /** First shard number. Default 0. */
  start?: number;
  /** Modification time written into headers, in seconds since the epoch. Default: when the writer was made. */
  mtime?: number;
  /** Called after each shard has been moved into place. */
  onShard?: (shard: { path: string; samples: number; bytes: number }) => void;
}

/** A sample that cannot be written as given; the writer stays usable (nothing of it was written). */
export class InvalidSampleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSampleError';
  }
}

const utf8 = new TextEncoder();
const END_OF_ARCHIVE = new Uint8Array(2 * BLOCK);

/** Expand the single `%d`/`%0Nd` directive of a shard pattern; `%%` is a literal percent sign. */
export function formatShardName(pattern: string, index: number): string {
  let directives = 0;
  const out = pattern.replace(/%(%|0?\d*d)/g, (_match, spec: string) => {
    if (spec === '%') return '%';
    directives++;
    const width = Number(spec.slice(0, -1) || '0');
    return String(index).padStart(width, spec.startsWith('0') ? '0' : ' ');
  });
  if (directives !== 1) {
    throw new Error(`shard pattern ${JSON.stringify(pattern)} must contain exactly one integer directive like %06d (found ${directives})`);
  }
  return out;
}

function encodeMember(key: string, ext: string, value: MemberValue): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return utf8.encode(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidSampleError(`sample ${JSON.stringify(key)}: "${ext}" is ${value}, not a finite number`);
    return utf8.encode(String(value));
  }
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) return utf8.encode(JSON.stringify(value));
  throw new InvalidSampleError(
    `sample ${JSON.stringify(key)}: "${ext}" has unsupported type ${value === null ? 'null' : ArrayBuffer.isView(value) ? value.constructor.name : typeof value} (use Uint8Array, string, number or a JSON object)`,
  );
}

/** Check that a key and extension read back as themselves (Python webdataset grouping rules). */
function checkMemberName(key: string, ext: string): void {
  const name = JSON.stringify(key);
  if (typeof key !== 'string' || key === '') throw new InvalidSampleError(`sample __key__ must be a non-empty string, got ${name}`);
  if (key.includes('\0') || ext.includes('\0')) throw new InvalidSampleError(`sample ${name}: names may not contain NUL`);
  if (key.startsWith('/')) throw new InvalidSampleError(`sample ${name}: key must be a relative path`);
  const base = key.slice(key.lastIndexOf('/') + 1);
  if (base === '') throw new InvalidSampleError(`sample ${name}: key must not end with "/"`);
  if (base.includes('.')) {
    throw new InvalidSampleError(`sample ${name}: the last path segment of a key may not contain "." (readers split the key at the first dot)`);
  }
  if (ext === '' || ext.includes('/')) throw new InvalidSampleError(`sample ${name}: extension ${JSON.stringify(ext)} must be non-empty and without "/"`);
  if (ext !== ext.toLowerCase()) {
    throw new InvalidSampleError(`sample ${name}: extension ${JSON.stringify(ext)} must be lower-case (readers lower-case extensions)`);
  }
  if (isMetaMember(`${key}.${ext}`)) throw new InvalidSampleError(`sample ${name}: keys like __name__ at the root are reserved for metadata`);
}

interface OpenShard {
  path: string;
  /** The shard under a hidden temporary name in its folder until it is complete. */
  file: AtomicFile;
  samples: number;
  bytes: number;
}

/** Writes samples into a numbered series of tar shards. `write` and `close` are serialised; await them for backpressure. */
export class ShardWriter {
  private readonly options: Required<Omit<ShardWriterOptions, 'onShard'>> & Pick<ShardWriterOptions, 'onShard'>;
  private current: OpenShard | undefined;
  private nextIndex: number;
  private readonly written: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private failure: unknown;
  private lastKey: string | undefined;

  constructor(options: ShardWriterOptions) {
    const maxCount = options.maxCount ?? 100_000;
    const maxSize = options.maxSize ?? 3e9;
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new RangeError(`maxCount must be an integer >= 1, got ${maxCount}`);
    if (!(maxSize > 0)) throw new RangeError(`maxSize must be > 0, got ${maxSize}`);
    formatShardName(options.pattern, 0); // validate the pattern now
    this.options = {
      pattern: options.pattern,
      maxCount,
      maxSize,
      start: options.start ?? 0,
      mtime: Math.floor(options.mtime ?? Date.now() / 1000),
      onShard: options.onShard,
    };
    this.nextIndex = this.options.start;
  }

  /**
   * Append one sample. Resolves once its bytes are handed to the OS (do not mutate them before then). A sample
   * that cannot be written rejects with {@link InvalidSampleError} and the writer stays usable; an I/O error makes
   * every later call fail (call {@link abort} to remove the unfinished shard).
   */
  write(sample: WritableSample): Promise<void> {
    if (this.closed) return Promise.reject(new Error('ShardWriter: write after close'));
    return this.enqueue(() => this.writeNow(sample));
  }

  /** Finish the last shard and return the paths of every shard written, in order. */
  close(): Promise<string[]> {
    if (this.closed) return this.enqueue(async () => [...this.written]);
    this.closed = true;
    return this.enqueue(async () => {
      await this.finishShard();
      return [...this.written];
    });
  }

  /** Give up: delete the unfinished shard's temporary file; shards already finished stay. */
  abort(): Promise<void> {
    this.closed = true;
    // Writes already queued may still open a shard, so look for the unfinished one only once they have run.
    return this.queue.then(async () => {
      const shard = this.current;
      this.current = undefined;
      if (!shard) return;
      await shard.file.abort();
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure !== undefined) throw new Error('ShardWriter: an earlier write failed', { cause: this.failure });
      return task();
    });
    this.queue = run.catch((error) => {
      // A rejected sample leaves the shard intact; an I/O failure leaves it unusable.
      if (!(error instanceof InvalidSampleError)) this.failure ??= error;
    });
    return run;
  }

  private async writeNow(sample: WritableSample): Promise<void> {
    if (typeof sample !== 'object' || sample === null) throw new InvalidSampleError('ShardWriter.write: sample must be an object');
    const key = sample.__key__;
    const parts: Uint8Array[] = [];
    let bytes = 0;
    for (const [ext, value] of Object.entries(sample)) {
      if (ext.startsWith('__') || value === undefined) continue;
      checkMemberName(key, ext);
      const data = encodeMember(key, ext, value);
      for (const header of encodeFileHeader(`${key}.${ext}`, data.length, this.options.mtime)) {
        parts.push(header);
        bytes += header.length;
      }
      parts.push(data, new Uint8Array(paddingFor(data.length)));
      bytes += data.length + paddingFor(data.length);
    }
    if (parts.length === 0) throw new InvalidSampleError(`sample ${JSON.stringify(key)} has no members to write`);
    if (key === this.lastKey) {
      throw new InvalidSampleError(`sample ${JSON.stringify(key)} written twice in a row: readers would merge the two into one sample`);
    }

    let shard = this.current;
    if (shard && (shard.samples >= this.options.maxCount || shard.bytes + bytes > this.options.maxSize)) {
      await this.finishShard();
      shard = undefined;
    }
    shard ??= await this.openShard();
    await shard.file.handle.writev(parts.filter((p) => p.length > 0));
    shard.samples++;
    shard.bytes += bytes;
    this.lastKey = key;
  }

  private async openShard(): Promise<OpenShard> {
    const path = formatShardName(this.options.pattern, this.nextIndex++);
    await mkdir(dirname(path) || '.', { recursive: true });
    // A crash leaves only the hidden temporary name behind, never a partial shard under its final name.
    this.current = { path, file: await AtomicFile.open(path), samples: 0, bytes: 0 };
    return this.current;
  }

  private async finishShard(): Promise<void> {
    const shard = this.current;
    if (!shard) return;
    this.current = undefined;
    try {
      await shard.file.handle.write(END_OF_ARCHIVE);
    } catch (error) {
      await shard.file.abort();
      throw error;
    }
    await shard.file.commit(); // removes the temporary file itself if it fails
    this.written.push(shard.path);
    this.options.onShard?.({ path: shard.path, samples: shard.samples, bytes: shard.bytes + END_OF_ARCHIVE.length });
  }
}
