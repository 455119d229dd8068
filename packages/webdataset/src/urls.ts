// Shard URL specs: `::`-joined lists, brace expansion with zero padding, and the allowed URL kinds.
// References: webdataset (Python) shardlists.expand_urls; the `braceexpand` package (bash brace expansion).
import { fileURLToPath } from 'node:url';

/** Refuse to expand specs larger than this, so a typo like {0..99999999999} fails fast instead of exhausting memory. */
const MAX_EXPANDED = 10_000_000;

const PIPE_REFUSAL =
  'pipe: URLs are not supported: they run a shell command taken from the dataset spec, so anyone who can write a spec ' +
  '(a config file, a CLI flag, a shard list on a server) could run arbitrary commands on your machine (command injection). ' +
  'Use a plain path, file://, or http(s):// URL instead, or open the stream yourself and pass it to readTarSamples.';

/** Where a shard comes from. */
export type ShardLocation = { kind: 'file'; path: string } | { kind: 'http'; url: string };

/** Classify one expanded URL; throws a clear error for unsupported schemes (including `pipe:`). */
export function locateShard(url: string): ShardLocation {
  if (/^pipe:/i.test(url)) throw new Error(`${PIPE_REFUSAL} (got ${JSON.stringify(url)})`);
  // Two or more characters, so that a Windows drive letter (`C:\data`) stays a plain path.
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'file', path: url };
  if (scheme === 'http' || scheme === 'https') return { kind: 'http', url };
  if (scheme === 'file') {
    try {
      return { kind: 'file', path: fileURLToPath(url) };
    } catch (error) {
      throw new Error(`invalid file URL ${JSON.stringify(url)}: ${(error as Error).message} (use file:///absolute/path)`);
    }
  }
  throw new Error(`unsupported URL scheme "${scheme}:" in ${JSON.stringify(url)}; supported: plain paths, file://, http://, https://`);
}

function findMatchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function splitTopLevelCommas(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

function rangeValues(body: string, spec: string): string[] | null {
  const numeric = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(body);
  const letters = numeric ? null : /^([a-zA-Z])\.\.([a-zA-Z])(?:\.\.(-?\d+))?$/.exec(body);
  const match = numeric ?? letters;
  if (!match) return null;
  const step = Math.abs(match[3] === undefined ? 1 : Number(match[3]));
  if (step === 0) throw new Error(`brace range {${body}} in ${JSON.stringify(spec)} has step 0`);
  const [first, last] = numeric ? [Number(match[1]), Number(match[2])] : [match[1].charCodeAt(0), match[2].charCodeAt(0)];
  const count = Math.floor(Math.abs(last - first) / step) + 1;
  if (count > MAX_EXPANDED) {
    throw new Error(`brace range {${body}} in ${JSON.stringify(spec)} expands to ${count} items (limit ${MAX_EXPANDED})`);
  }
  // Bash rule: if either bound has a leading zero, pad every number to the wider bound's width.
  const unsigned = (s: string) => s.replace(/^-/, '');
  const padded = numeric && [match[1], match[2]].some((s) => unsigned(s).length > 1 && unsigned(s).startsWith('0'));
  const width = padded ? Math.max(unsigned(match[1]).length, unsigned(match[2]).length) : 0;
  const direction = last >= first ? 1 : -1;
  const values: string[] = [];
  for (let i = 0, v = first; i < count; i++, v += direction * step) {
    if (!numeric) values.push(String.fromCharCode(v));
    else values.push((v < 0 ? '-' : '') + String(Math.abs(v)).padStart(width, '0'));
  }
  return values;
}

/** Bash-style brace expansion: `{000..099}` ranges (zero padded), `{a..e}`, `{1..9..2}`, `{x,y}` lists, nested. */
export function braceExpand(text: string, spec = text): string[] {
  const open = text.indexOf('{');
  if (open < 0) {
    if (text.includes('}')) throw new Error(`unbalanced "}" in shard spec ${JSON.stringify(spec)}`);
    return [text];
  }
  if (text.slice(0, open).includes('}')) throw new Error(`unbalanced "}" in shard spec ${JSON.stringify(spec)}`);
  const close = findMatchingBrace(text, open);
  if (close < 0) throw new Error(`unbalanced "{" in shard spec ${JSON.stringify(spec)}`);
  const body = text.slice(open + 1, close);
  const prefix = text.slice(0, open);
  const range = rangeValues(body, spec);
  const alternatives = range ?? splitTopLevelCommas(body);
  if (range === null && alternatives.length < 2) {
    throw new Error(`"{${body}}" in shard spec ${JSON.stringify(spec)} is neither a range like {000..099} nor a list like {a,b}`);
  }
  const suffixes = braceExpand(text.slice(close + 1), spec);
  const out: string[] = [];
  for (const alternative of alternatives) {
    for (const middle of braceExpand(alternative, spec)) {
      for (const suffix of suffixes) {
        out.push(prefix + middle + suffix);
        if (out.length > MAX_EXPANDED) {
          throw new Error(`shard spec ${JSON.stringify(spec)} expands to more than ${MAX_EXPANDED} URLs`);
        }
      }
    }
  }
  return out;
}

/**
 * Expand a shard spec into the list of shard URLs, in order.
 * A spec is a string or an array of strings; each string may join several specs with `::`; each spec may use
 * brace ranges (`train-{000000..000999}.tar`) and lists (`{train,val}`). Plain paths, `file://`, `http://` and
 * `https://` are accepted; `pipe:` is refused (command injection) and other schemes are errors.
 */
export function expandUrls(spec: string | readonly string[]): string[] {
  const specs = typeof spec === 'string' ? [spec] : spec;
  if (!Array.isArray(specs)) throw new TypeError(`shard spec must be a string or an array of strings, got ${typeof spec}`);
  const urls: string[] = [];
  for (const item of specs) {
    if (typeof item !== 'string') throw new TypeError(`shard spec entries must be strings, got ${typeof item}`);
    for (const raw of item.split('::')) {
      const part = raw.trim();
      if (part === '') throw new Error(`empty shard spec in ${JSON.stringify(item)}`);
      // Before brace expansion, so a shell command is refused as a pipe even when its braces are not a valid range.
      if (/^pipe:/i.test(part)) throw new Error(`${PIPE_REFUSAL} (got ${JSON.stringify(part)})`);
      for (const url of braceExpand(part)) {
        locateShard(url); // validate the scheme now, not when the shard is reached
        urls.push(url);
      }
    }
  }
  if (urls.length === 0) throw new Error('shard spec is empty');
  return urls;
}
