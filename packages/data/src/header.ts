// Reads width, height and EXIF orientation from JPEG and PNG headers in plain JS (microseconds, no decoder call), so
// the crop can be chosen before any pixel work; anything unusual returns null and the caller asks sharp instead.
// References: ITU T.81 (JPEG markers, SOFn), EXIF 2.3 (APP1, TIFF IFD0 tag 0x0112), PNG spec (IHDR, eXIf chunk).

export interface ImageHeader {
  format: 'jpeg' | 'png';
  /** Stored dimensions, before EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1..8 (1 when absent). */
  orientation: number;
  /** JPEG: colour components in the frame (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK). */
  components?: number;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** The header of a JPEG or PNG, or null when the bytes are anything else or the header is not plain. */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return readJpegHeader(bytes);
  if (bytes.length >= 33 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return readPngHeader(bytes);
  return null;
}

function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function readJpegHeader(b: Uint8Array): ImageHeader | null {
  let i = 2;
  let orientation = 1;
  let sawExif = false;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null; // not at a marker: leave it to the real decoder
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or end before any frame header
    const length = u16be(b, i + 2);
    if (length < 2 || i + 2 + length > b.length) return null;
    const body = i + 4;
    if (
      marker === 0xe1 &&
      !sawExif &&
      length >= 16 &&
      b[body] === 0x45 &&
      b[body + 1] === 0x78 &&
      b[body + 2] === 0x69 &&
      b[body + 3] === 0x66 &&
      b[body + 4] === 0 &&
      b[body + 5] === 0
    ) {
      sawExif = true;
      const parsed = exifOrientation(b.subarray(body + 6, i + 2 + length));
      if (parsed === null) return null;
      orientation = parsed;
    }
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) return null;
      const height = u16be(b, body + 1);
      const width = u16be(b, body + 3);
      if (width === 0 || height === 0) return null; // height 0 means "defined later" (DNL): let libjpeg handle it
      return { format: 'jpeg', width, height, orientation, components: b[body + 5] };
    }
    i += 2 + length;
  }
  return null;
}

/** Orientation from a TIFF block (IFD0 tag 0x0112); 1 when the tag is absent, null when the block is malformed. */
function exifOrientation(t: Uint8Array): number | null {
  if (t.length < 8) return null;
  const little = t[0] === 0x49 && t[1] === 0x49;
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return null;
  const u16 = (i: number) => (little ? t[i] | (t[i + 1] << 8) : (t[i] << 8) | t[i + 1]);
  const u32 = (i: number) => (little ? (t[i] | (t[i + 1] << 8) | (t[i + 2] << 16) | (t[i + 3] << 24)) >>> 0 : u32be(t, i));
  if (u16(2) !== 42) return null;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return null;
  const count = u16(ifd);
  for (let e = 0; e < count; e++) {
    const entry = ifd + 2 + e * 12;
    if (entry + 12 > t.length) return null;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

function readPngHeader(b: Uint8Array): ImageHeader | null {
  if (b[4] !== 0x0d || b[5] !== 0x0a || b[6] !== 0x1a || b[7] !== 0x0a) return null;
  if (u32be(b, 8) !== 13 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return null; // IHDR first
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  if (width === 0 || height === 0) return null;
  // libvips honours an eXIf chunk's orientation; such files (rare) go to sharp for their metadata.
  let i = 33;
  while (i + 8 <= b.length) {
    const length = u32be(b, i);
    const type = String.fromCharCode(b[i + 4], b[i + 5], b[i + 6], b[i + 7]);
    if (type === 'eXIf') return null;
    if (type === 'IDAT' || type === 'IEND') break;
    i += 12 + length;
  }
  return { format: 'png', width, height, orientation: 1 };
}
