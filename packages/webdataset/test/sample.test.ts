// Key/extension splitting as Python webdataset's base_plus_ext, and the member decoders.
import { describe, expect, it } from 'vitest';
import { isMetaMember, sampleBytes, sampleCls, sampleJson, sampleText, splitMemberPath, type Sample } from '../src/index.js';
import { bytes } from './helpers.js';

describe('splitMemberPath', () => {
  it('splits at the first dot of the basename, keeps directories, lower-cases the extension', () => {
    expect(splitMemberPath('dir/img001.seg.png')).toEqual({ key: 'dir/img001', ext: 'seg.png' });
    expect(splitMemberPath('a.b/c.D.JPG')).toEqual({ key: 'a.b/c', ext: 'd.jpg' });
    expect(splitMemberPath('./x.txt')).toEqual({ key: './x', ext: 'txt' });
    expect(splitMemberPath('noext')).toBeNull();
    expect(splitMemberPath('dir/.hidden')).toBeNull();
    expect(splitMemberPath('dir.with.dots/noext')).toBeNull();
    expect(isMetaMember('__META__')).toBe(true);
    expect(isMetaMember('__x__/y.txt')).toBe(true);
    expect(isMetaMember('__x__.txt')).toBe(false);
  });
});

describe('decoders', () => {
  const sample: Sample = {
    __key__: 'k',
    __url__: 'u.tar',
    txt: bytes('héllo'),
    json: bytes('{"a":[1,2]}'),
    cls: bytes(' 42\n'),
    bad: new Uint8Array([0xff, 0xfe]),
  };

  it('decode txt, json, cls and raw bytes', () => {
    expect(sampleText(sample)).toBe('héllo');
    expect(sampleJson(sample)).toEqual({ a: [1, 2] });
    expect(sampleCls(sample)).toBe(42);
    expect(Array.from(sampleBytes(sample, 'cls'))).toEqual(Array.from(bytes(' 42\n')));
  });

  it('name the sample, the URL and the members it has when something is wrong', () => {
    expect(() => sampleBytes(sample, 'jpg')).toThrow('sample "k" from u.tar has no "jpg" member (it has: txt, json, cls, bad)');
    expect(() => sampleText(sample, 'bad')).toThrow(/"bad" is not valid UTF-8/);
    expect(() => sampleJson(sample, 'txt')).toThrow(/"txt" is not valid JSON/);
    expect(() => sampleCls(sample, 'txt')).toThrow(/"txt" is not an integer: "héllo"/);
    expect(() => sampleText(sample, '__key__')).toThrow(/has no "__key__" member/);
  });
});
