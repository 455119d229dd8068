// Shard specs: brace expansion, `::` lists, allowed URL schemes, and the errors for bad specs.
import { describe, expect, it } from 'vitest';
import { braceExpand, expandUrls, locateShard } from '../src/index.js';

describe('expandUrls', () => {
  it('expands zero-padded brace ranges in order', () => {
    expect(expandUrls('data/train-{000000..000003}.tar')).toEqual([
      'data/train-000000.tar',
      'data/train-000001.tar',
      'data/train-000002.tar',
      'data/train-000003.tar',
    ]);
    expect(expandUrls('s-{8..11}.tar')).toEqual(['s-8.tar', 's-9.tar', 's-10.tar', 's-11.tar']);
    expect(expandUrls('s-{08..10}.tar')).toEqual(['s-08.tar', 's-09.tar', 's-10.tar']);
  });

  it('joins specs with :: and accepts arrays, lists, steps and nesting', () => {
    expect(expandUrls('a-{0..1}.tar::b.tar')).toEqual(['a-0.tar', 'a-1.tar', 'b.tar']);
    expect(expandUrls(['x.tar', 'y-{a,b}.tar'])).toEqual(['x.tar', 'y-a.tar', 'y-b.tar']);
    expect(braceExpand('{0..6..3}')).toEqual(['0', '3', '6']);
    expect(braceExpand('{3..1}')).toEqual(['3', '2', '1']);
    expect(braceExpand('{train,val-{0..1}}/{a..b}')).toEqual(['train/a', 'train/b', 'val-0/a', 'val-0/b', 'val-1/a', 'val-1/b']);
  });

  it('keeps file:// and http(s):// URLs and resolves file URLs to paths', () => {
    expect(expandUrls('https://host/d/s-{0..1}.tar')).toEqual(['https://host/d/s-0.tar', 'https://host/d/s-1.tar']);
    expect(locateShard('file:///tmp/a%20b.tar')).toEqual({ kind: 'file', path: '/tmp/a b.tar' });
    expect(locateShard('http://127.0.0.1:8/x.tar')).toEqual({ kind: 'http', url: 'http://127.0.0.1:8/x.tar' });
    expect(locateShard('/abs/x.tar')).toEqual({ kind: 'file', path: '/abs/x.tar' });
  });

  it('refuses pipe: URLs, explaining the command-injection risk', () => {
    expect(() => expandUrls('pipe:curl -s http://x/{0..1}.tar')).toThrow(/pipe: URLs are not supported.*command injection/s);
    expect(() => expandUrls('a.tar::pipe:cat b.tar')).toThrow(/command injection/);
  });

  it('rejects unknown schemes, unbalanced braces and empty specs with messages naming the input', () => {
    expect(() => expandUrls('s3://bucket/x.tar')).toThrow(/unsupported URL scheme "s3:".*s3:\/\/bucket\/x\.tar/);
    expect(() => expandUrls('a-{0..3.tar')).toThrow(/unbalanced "\{".*a-\{0\.\.3\.tar/);
    expect(() => expandUrls('a-0..3}.tar')).toThrow(/unbalanced "\}"/);
    expect(() => expandUrls('a.tar::')).toThrow(/empty shard spec/);
    expect(() => expandUrls('a-{x}.tar')).toThrow(/neither a range/);
    expect(() => expandUrls('a-{0..99999999999}.tar')).toThrow(/limit/);
  });
});
