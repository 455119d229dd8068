// POSIX tar headers: parse ustar/GNU/v7 headers and PAX records, and encode ustar headers with PAX extensions.
// References: POSIX.1-2001 pax format (IEEE Std 1003.1, "pax" Extended Header); GNU tar manual, "Basic Tar Format";
// CPython Lib/tarfile.py (behaviour we match when reading).

export const BLOCK = 512;

/** Fields of one parsed header block. */
export interface RawHeader {
  name: string;
  size: number;
  typeflag: string;
}

const latin1 = new TextDecoder('latin1');
const utf8Decoder = new TextDecoder('utf-8');
const utf8 = new TextEncoder();

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a NUL-terminated header field. Names are UTF-8 in practice (GNU tar, Python) with a latin-1 fallback. */
function field(block: Uint8Array, start: number, length: number): string {
  let end = start;
  const limit = start + length;
  let ascii = true;
  while (end < limit && block[end] !== 0) {
    if (block[end] > 0x7f) ascii = false;
    end++;
  }
  if (ascii) return String.fromCharCode.apply(null, block.subarray(start, end) as unknown as number[]);
  const bytes = block.subarray(start, end);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** Parse a numeric field: octal text (space/NUL padded) or GNU base-256 (high bit of first byte set). */
function numeric(block: Uint8Array, start: number, length: number, what: string): number {
  if (block[start] & 0x80) {
    if (block[start] === 0xff) throw new Error(`negative ${what} in tar header`);
    let value = block[start] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + block[start + i];
    if (!Number.isSafeInteger(value)) throw new Error(`${what} in tar header is too large`);
    return value;
  }
  let value = 0;
  let i = start;
  const end = start + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++; // leading spaces/NULs
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i];
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30);
      digits++;
    } else if (c === 0x20 || c === 0) {
      break;
    } else {
      throw new Error(`invalid ${what} field in tar header (not octal)`);
    }
  }
  if (digits === 0 && what !== 'size') throw new Error(`empty ${what} field in tar header`);
  return value;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** The checksum some old tars wrote: bytes summed as signed chars. */
function signedChecksum(block: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    sum += block[i] > 127 ? block[i] - 256 : block[i];
  }
  return sum;
}

/** Parse and verify one header block (checksum checked as unsigned or signed sum, as tarfile does). */
export function parseHeader(block: Uint8Array): RawHeader {
  let stored: number;
  try {
    stored = numeric(block, 148, 8, 'checksum');
  } catch {
    throw new Error('bad tar header checksum field: not a tar file or corrupt data');
  }
  // The checksum counts its own 8-byte field as spaces.
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += block[i];
  for (let i = 156; i < BLOCK; i++) unsigned += block[i];
  if (stored !== unsigned && stored !== signedChecksum(block)) {
    throw new Error(`bad tar header checksum (stored ${stored}, computed ${unsigned}): not a tar file or corrupt data`);
  }
  // "ustar\0" is POSIX (its prefix field extends the name); GNU writes "ustar  \0" and uses that space otherwise.
  const posix = block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74 && block[260] === 0x61 && block[261] === 0x72 && block[262] === 0;
  let name = field(block, 0, 100);
  if (posix) {
    const prefix = field(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const typeflag = block[156] === 0 ? '\0' : String.fromCharCode(block[156]);
  return { name, size: numeric(block, 124, 12, 'size'), typeflag };
}

/** Parse PAX extended-header records `"<len> <key>=<value>\n"`. */
export function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    let space = pos;
    while (space < data.length && data[space] !== 0x20) space++;
    const length = Number(latin1.decode(data.subarray(pos, space)));
    if (!Number.isInteger(length) || length <= 0 || pos + length > data.length) {
      if (data.subarray(pos).every((b) => b === 0)) break; // NUL padding some writers leave
      throw new Error('malformed PAX extended header record');
    }
    const record = utf8Decoder.decode(data.subarray(space + 1, pos + length - 1));
    const eq = record.indexOf('=');
    if (eq < 0) throw new Error('malformed PAX extended header record (no "=")');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}

// ---------------------------------------------------------------------------------------------- writing

function writeString(block: Uint8Array, start: number, length: number, bytes: Uint8Array): void {
  if (bytes.length > length) throw new Error('tar header field overflow'); // callers size-check first
  block.set(bytes, start);
}

function writeOctal(block: Uint8Array, start: number, length: number, value: number): void {
  // length-1 octal digits then NUL, as POSIX asks.
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new Error('tar numeric field overflow');
  for (let i = 0; i < text.length; i++) block[start + i] = text.charCodeAt(i);
  block[start + length - 1] = 0;
}

/** Largest size a ustar octal size field holds (11 octal digits). Bigger members get a PAX `size` record. */
const MAX_USTAR_SIZE = 0o77777777777;

interface UstarFields {
  name: Uint8Array;
  prefix: Uint8Array;
}

/** Fit a UTF-8 path into ustar name(100) + prefix(155), splitting at a '/'; null when it does not fit. */
function fitUstarPath(path: Uint8Array): UstarFields | null {
  if (path.length <= 100) return { name: path, prefix: new Uint8Array(0) };
  for (let i = Math.max(0, path.length - 101); i < path.length && i <= 155; i++) {
    if (path[i] === 0x2f && path.length - i - 1 <= 100 && i > 0) {
      return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
    }
  }
  return null;
}

function ustarBlock(fields: UstarFields, size: number, typeflag: string, mtime: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, 0o644); // mode
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtime);
  block[156] = typeflag.charCodeAt(0);
  block.set(utf8.encode('ustar\u000000'), 257); // magic "ustar\0" + version "00"
  writeString(block, 345, 155, fields.prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i];
  writeOctal(block, 148, 7, sum); // 6 digits + NUL, then the space already there
  block[155] = 0x20;
  return block;
}

function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const bodyLength = utf8.encode(body).length;
  // The length prefix counts its own digits: find the fixed point.
  let length = bodyLength + 1;
  while (String(length).length + bodyLength !== length) length = String(length).length + bodyLength;
  return utf8.encode(`${length}${body}`);
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * Encode the header block(s) for a regular file: plain ustar when the path and size fit, else a PAX extended
 * header ('x') carrying `path`/`size` followed by the ustar header. Non-ASCII paths always get a PAX path so
 * every reader decodes them as UTF-8.
 */
export function encodeFileHeader(path: string, size: number, mtime: number): Uint8Array[] {
  const pathBytes = utf8.encode(path);
  const ascii = pathBytes.length === path.length;
  const fitted = ascii ? fitUstarPath(pathBytes) : null;
  const records: Uint8Array[] = [];
  if (fitted === null) records.push(paxRecord('path', path));
  if (size > MAX_USTAR_SIZE) records.push(paxRecord('size', String(size)));
  const fields = fitted ?? { name: utf8.encode(asciiFallbackName(path)), prefix: new Uint8Array(0) };
  const header = ustarBlock(fields, size > MAX_USTAR_SIZE ? 0 : size, '0', mtime);
  if (records.length === 0) return [header];
  const paxData = concat(records);
  const paxName = utf8.encode(`PaxHeaders/${asciiFallbackName(path).slice(-80)}`);
  const paxHeader = ustarBlock({ name: paxName.subarray(0, 100), prefix: new Uint8Array(0) }, paxData.length, 'x', mtime);
  return [paxHeader, paxData, new Uint8Array(paddingFor(paxData.length)), header];
}

/** A short ASCII stand-in for the ustar name field when the real path lives in a PAX record. */
function asciiFallbackName(path: string): string {
  const ascii = path.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= 100 ? ascii : ascii.slice(ascii.length - 100);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
