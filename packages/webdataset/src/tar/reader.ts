// Streaming tar reader: turns a stream of byte chunks into file members, holding one member in memory at a time.
// References: POSIX.1-2001 ustar/pax; GNU tar long names ('L'/'K'); CPython Lib/tarfile.py stream mode ("r|").
import { BLOCK, isZeroBlock, paddingFor, parseHeader, parsePax } from './format.js';

/** A regular file member with its bytes. */
export interface TarFile {
  path: string;
  data: Uint8Array;
}

/** A member that was skipped for a recoverable reason (e.g. over the size limit); its bytes were not kept. */
export interface TarSkipped {
  path: string;
  size: number;
  error: string;
}

export type TarItem = TarFile | TarSkipped;

export interface ReadTarOptions {
  /** Members larger than this are skipped and reported as {@link TarSkipped}. Default 256 MiB. */
  maxMemberSize?: number;
}

export const DEFAULT_MAX_MEMBER_SIZE = 256 * 1024 * 1024;
/** Long names and PAX headers are metadata; anything bigger than this is damage, not a name. */
const MAX_METADATA_SIZE = 1024 * 1024;

/** Damage that stops reading the archive: truncation, bad checksum, unsupported layout. */
export class TarFormatError extends Error {
  /** Path of the member being read when the damage was found, if any. */
  readonly path: string | undefined;
  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TarFormatError';
    this.path = path;
  }
}

const EMPTY = new Uint8Array(0);

/** Reads exact byte counts from an async iterator of chunks, copying as little as possible. */
class ChunkReader {
  private chunk: Uint8Array = EMPTY;
  private offset = 0;
  private ended = false;
  /** Bytes consumed so far (for error messages). */
  position = 0;
  private readonly scratch = new Uint8Array(BLOCK);

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Make sure the current chunk has unread bytes; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (this.offset >= this.chunk.length) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const value: unknown = next.value;
      if (!(value instanceof Uint8Array)) {
        throw new TypeError(`tar input must be a stream of Uint8Array chunks, got ${typeof value}`);
      }
      this.chunk = value;
      this.offset = 0;
    }
    return true;
  }

  /** Fill `dest` completely; returns how many bytes were written (fewer only at end of stream). */
  async readInto(dest: Uint8Array): Promise<number> {
    let written = 0;
    while (written < dest.length) {
      if (!(await this.fill())) break;
      const n = Math.min(dest.length - written, this.chunk.length - this.offset);
      dest.set(this.chunk.subarray(this.offset, this.offset + n), written);
      this.offset += n;
      written += n;
    }
    this.position += written;
    return written;
  }

  /**
   * Read one 512-byte block: a view into the current chunk when it lies wholly inside it (valid until the next
   * read), else a copy. Returns null at a clean end of stream, a shorter array at a truncated one.
   */
  async readBlock(): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    if (this.chunk.length - this.offset >= BLOCK) {
      const view = this.chunk.subarray(this.offset, this.offset + BLOCK);
      this.offset += BLOCK;
      this.position += BLOCK;
      return view;
    }
    const n = await this.readInto(this.scratch);
    return n === BLOCK ? this.scratch : this.scratch.subarray(0, n);
  }

  /** Discard `count` bytes; returns how many were discarded (fewer only at end of stream). */
  async skip(count: number): Promise<number> {
    let skipped = 0;
    while (skipped < count) {
      if (!(await this.fill())) break;
      const n = Math.min(count - skipped, this.chunk.length - this.offset);
      this.offset += n;
      skipped += n;
    }
    this.position += skipped;
    return skipped;
  }

  // Synchronous fast paths: most headers and members lie inside the current chunk, and skipping the awaits
  // there is what keeps the parser close to raw read speed.

  /** Unread bytes in the current chunk. */
  available(): number {
    return this.chunk.length - this.offset;
  }

  /** A view of the next `n` buffered bytes (n <= available()); valid until the next read. */
  view(n: number): Uint8Array {
    const view = this.chunk.subarray(this.offset, this.offset + n);
    this.offset += n;
    this.position += n;
    return view;
  }

  /** A copy of the next `n` buffered bytes (n <= available()) in a fresh array that owns its memory. */
  copy(n: number): Uint8Array {
    // A copy, so a kept sample never pins a whole read chunk. new+set measured faster than slice() or
    // Buffer.allocUnsafeSlow (V8-managed memory, no species lookup).
    const out = new Uint8Array(n);
    out.set(this.chunk.subarray(this.offset, this.offset + n));
    this.offset += n;
    this.position += n;
    return out;
  }

  async close(): Promise<void> {
    await this.source.return?.();
  }
}

const utf8 = new TextDecoder('utf-8');

/**
 * Iterate the regular-file members of a tar stream in order. Directories, links, devices and other non-file
 * entries are skipped; GNU long names ('L') and PAX `path`/`size` records are applied. The archive ends at the
 * first zero block; a stream that ends without one is reported as truncated (Python's tarfile would accept it
 * silently when it ends on a block boundary, hiding a cut-short shard).
 * Throws {@link TarFormatError} on truncation or corruption, after yielding every intact member before it.
 * Breaking out of the loop closes the source.
 */
export async function* readTarEntries(chunks: AsyncIterable<Uint8Array>, options: ReadTarOptions = {}): AsyncGenerator<TarItem, void, undefined> {
  const maxMemberSize = options.maxMemberSize ?? DEFAULT_MAX_MEMBER_SIZE;
  const reader = new ChunkReader(chunks[Symbol.asyncIterator]());
  let longName: string | undefined;
  let pax: Map<string, string> | undefined;

  const readMetadata = async (size: number, what: string): Promise<Uint8Array> => {
    if (size > MAX_METADATA_SIZE) throw new TarFormatError(`${what} of ${size} bytes is implausibly large (corrupt archive)`);
    const data = new Uint8Array(size);
    if ((await reader.readInto(data)) < size) throw new TarFormatError(`archive ends inside a ${what}`);
    await reader.skip(paddingFor(size));
    return data;
  };

  // The member whose data is being read, so that a failure of the source (a broken download) names it.
  let reading: string | undefined;
  try {
    for (;;) {
      reading = undefined;
      const headerAt = reader.position;
      const block = reader.available() >= BLOCK ? reader.view(BLOCK) : await reader.readBlock();
      if (block === null) {
        // GNU tar, Python and ShardWriter all end archives with zero blocks; without them the archive was cut
        // short on a block boundary, and the last member read may not be the last one written.
        throw new TarFormatError(`archive is truncated: it ends at byte ${headerAt} without the end-of-archive marker`);
      }
      if (block.length < BLOCK) {
        throw new TarFormatError(`archive is truncated: it ends inside the header at byte ${headerAt}`);
      }
      if (isZeroBlock(block)) return;
      let header;
      try {
        header = parseHeader(block);
      } catch (error) {
        throw new TarFormatError(`${(error as Error).message} at byte ${headerAt}`);
      }
      switch (header.typeflag) {
        case 'L': // GNU long name for the next member
          longName = utf8.decode(await readMetadata(header.size, 'GNU long name')).replace(/\0+$/, '');
          continue;
        case 'x': // PAX extended header for the next member
          try {
            pax = parsePax(await readMetadata(header.size, 'PAX header'));
          } catch (error) {
            if (error instanceof TarFormatError) throw error;
            throw new TarFormatError(`${(error as Error).message} at byte ${headerAt}`);
          }
          continue;
        case 'K': // GNU long link name: only links use it, and links are skipped
        case 'g': // PAX global header: no per-member meaning for us
          await readMetadata(header.size, 'metadata header');
          continue;
      }

      let path = header.name;
      let size = header.size;
      if (pax?.has('path')) path = pax.get('path')!;
      if (pax?.has('size')) {
        size = Number(pax.get('size'));
        if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`bad PAX size record for ${path}`, path);
      }
      if (longName !== undefined) path = longName;
      longName = undefined;
      pax = undefined;

      reading = path;
      const type = header.typeflag;
      const regular = type === '0' || type === '7' || (type === '\0' && !path.endsWith('/'));
      if (!regular) {
        if (type === 'S') throw new TarFormatError(`GNU sparse member ${path} is not supported`, path);
        // Links, directories, devices and FIFOs carry no data; unknown types are skipped by their size (as tarfile).
        const hasData = !'123456'.includes(type) && !(type === '\0' && path.endsWith('/'));
        if (hasData) {
          const total = size + paddingFor(size);
          if ((await reader.skip(total)) < size) throw new TarFormatError(`archive ends inside member ${path}`, path);
        }
        continue;
      }

      if (size > maxMemberSize) {
        const skipped = await reader.skip(size + paddingFor(size));
        if (skipped < size) throw new TarFormatError(`archive ends inside member ${path}`, path);
        yield { path, size, error: `member ${path} is ${size} bytes, over the member size limit of ${maxMemberSize} bytes` };
        continue;
      }
      let data: Uint8Array;
      if (reader.available() >= size) {
        data = reader.copy(size);
      } else {
        data = new Uint8Array(size);
        const got = await reader.readInto(data);
        if (got < size) {
          throw new TarFormatError(`archive is truncated: member ${path} should have ${size} bytes but the archive ends after ${got}`, path);
        }
      }
      // The data is intact even if the archive stops inside the padding; the next header read decides.
      const padding = paddingFor(size);
      if (reader.available() >= padding) reader.view(padding);
      else await reader.skip(padding);
      reading = undefined;
      yield { path, data };
    }
  } catch (error) {
    if (error instanceof TarFormatError || reading === undefined) throw error;
    throw new TarFormatError(`${(error as Error).message} (while reading member ${reading})`, reading, { cause: error });
  } finally {
    await reader.close();
  }
}
