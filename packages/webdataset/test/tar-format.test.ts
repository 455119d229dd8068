// Header-level details other writers produce: signed checksums, base-256 sizes, PAX size records.
import { describe, expect, it } from 'vitest';
import { concat, encodeFileHeader, paddingFor, parseHeader } from '../src/tar/format.js';
import { readTarEntries } from '../src/index.js';
import { bytes, collect } from './helpers.js';

function writeChecksum(block: Uint8Array, sum: number): void {
  const text = sum.toString(8).padStart(6, '0');
  for (let i = 0; i < 6; i++) block[148 + i] = text.charCodeAt(i);
  block[154] = 0;
  block[155] = 0x20;
}

function member(path: string, data: Uint8Array): Uint8Array {
  return concat([...encodeFileHeader(path, data.length, 0), data, new Uint8Array(paddingFor(data.length))]);
}

async function* once(data: Uint8Array) {
  yield data;
}

describe('tar headers', () => {
  it('accepts a checksum computed over signed bytes (old writers) as tarfile does', () => {
    const [header] = encodeFileHeader('plain-name.txt', 3, 0);
    const block = new Uint8Array(header);
    block.set(bytes('\u00e9'), 20); // a non-ASCII byte pair in the name
    let signed = 8 * 0x20;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) signed += block[i] > 127 ? block[i] - 256 : block[i];
    writeChecksum(block, signed);
    expect(parseHeader(block).size).toBe(3);
    block[0] ^= 1;
    expect(() => parseHeader(block)).toThrow(/bad tar header checksum/);
  });

  it('reads GNU base-256 sizes and PAX size records', async () => {
    const data = bytes('0123456789');
    const gnu = new Uint8Array(member('a.bin', data));
    // Rewrite the size field in base-256 and fix the checksum.
    gnu.fill(0, 124, 136);
    gnu[124] = 0x80;
    gnu[135] = data.length;
    let sum = 8 * 0x20;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += gnu[i];
    writeChecksum(gnu, sum);
    const pax = member('PaxHeaders/b.bin', bytes('16 size=0000010\n'));
    const paxBlock = new Uint8Array(pax);
    paxBlock[156] = 'x'.charCodeAt(0); // turn it into a PAX header for the next member
    let paxSum = 8 * 0x20;
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) paxSum += paxBlock[i];
    writeChecksum(paxBlock, paxSum);
    const zeroSized = new Uint8Array(encodeFileHeader('b.bin', 0, 0)[0]); // ustar size 0, PAX says 10
    const archive = concat([gnu, paxBlock, zeroSized, data, new Uint8Array(paddingFor(10)), new Uint8Array(1024)]);
    const entries = await collect(readTarEntries(once(archive)));
    expect(entries.map((e) => [e.path, 'data' in e ? Array.from(e.data) : e.error])).toEqual([
      ['a.bin', Array.from(data)],
      ['b.bin', Array.from(data)],
    ]);
  });

  it('writes long and non-ASCII paths so that they read back exactly', async () => {
    const paths = [`${'d'.repeat(150)}/${'f'.repeat(99)}.x`, `${'g'.repeat(300)}.y`, 'ünï/cødé.z', `${'a/'.repeat(60)}b.c`];
    const archive = concat([...paths.map((p) => member(p, bytes(p))), new Uint8Array(1024)]);
    const entries = await collect(readTarEntries(once(archive)));
    expect(entries.map((e) => e.path)).toEqual(paths);
  });
});
