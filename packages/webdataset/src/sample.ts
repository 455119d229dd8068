// The Sample shape, the Python-webdataset key/extension split, and decoders for common member types.
// References: webdataset (Python) tariterators.base_plus_ext, group_by_keys, and the `cls`/`txt`/`json` decoders.

/** One training example: the members of a tar that share a key. Member payloads are bytes. */
export type Sample = { __key__: string; __url__: string; [ext: string]: Uint8Array | string };

/**
 * Split a tar member path into (key, extension) exactly like Python webdataset's `base_plus_ext`:
 * key = the path up to the first `.` of the basename (directories included), extension = the rest, lower-cased.
 * Returns null for members that are not part of any sample (no `.` in the basename, or a basename starting with `.`).
 */
export function splitMemberPath(path: string): { key: string; ext: string } | null {
  const slash = path.lastIndexOf('/');
  const dot = path.indexOf('.', slash + 1);
  // Python's regex needs at least one non-dot character before the dot, and a dot in the basename.
  if (dot <= slash + 1) return null;
  return { key: path.slice(0, dot), ext: path.slice(dot + 1).toLowerCase() };
}

/** Python webdataset skips metadata members such as `__META__` or `__x__/...` at the archive root. */
export function isMetaMember(path: string): boolean {
  return /^__[^/]*__($|\/)/.test(path);
}

function member(sample: Sample, ext: string): Uint8Array | string {
  const value = sample[ext];
  if (value === undefined || ext.startsWith('__')) {
    const exts = Object.keys(sample).filter((k) => !k.startsWith('__'));
    throw new Error(`sample ${JSON.stringify(sample.__key__)} from ${sample.__url__} has no "${ext}" member (it has: ${exts.join(', ') || 'none'})`);
  }
  return value;
}

/** A member's bytes (e.g. `sampleBytes(s, 'jpg')`); a missing member is an error naming the sample and its members. */
export function sampleBytes(sample: Sample, ext: string): Uint8Array {
  const value = member(sample, ext);
  return typeof value === 'string' ? new TextEncoder().encode(value) : value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a member as UTF-8 text (default extension `txt`). Invalid UTF-8 is an error naming the sample. */
export function sampleText(sample: Sample, ext = 'txt'): string {
  const value = member(sample, ext);
  if (typeof value === 'string') return value;
  try {
    return strictUtf8.decode(value);
  } catch {
    throw new Error(`sample ${JSON.stringify(sample.__key__)} from ${sample.__url__}: "${ext}" is not valid UTF-8`);
  }
}

/** Decode a member as JSON (default extension `json`). */
export function sampleJson<T = unknown>(sample: Sample, ext = 'json'): T {
  const text = sampleText(sample, ext);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`sample ${JSON.stringify(sample.__key__)} from ${sample.__url__}: "${ext}" is not valid JSON (${(error as Error).message})`);
  }
}

/** Decode a class-label member (default extension `cls`): decimal integer text, surrounding whitespace allowed. */
export function sampleCls(sample: Sample, ext = 'cls'): number {
  const text = sampleText(sample, ext).trim();
  if (!/^[+-]?\d+$/.test(text)) {
    throw new Error(`sample ${JSON.stringify(sample.__key__)} from ${sample.__url__}: "${ext}" is not an integer: ${JSON.stringify(text.slice(0, 40))}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new Error(`sample ${JSON.stringify(sample.__key__)} from ${sample.__url__}: "${ext}" is out of range: ${text}`);
  }
  return value;
}
