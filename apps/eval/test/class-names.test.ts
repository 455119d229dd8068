// --class-names: a comma list or @file, checked against the data's classes; MNIST's digits by default.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { resolveClassNames } from '../src/class-names.js';

const dir = mkdtempSync(join(tmpdir(), 'eval-class-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const shards = { train: 'data/train-{0..3}.tar', test: 'data/test-0.tar' };

it('takes a comma list or a file with one name per line', () => {
  expect(resolveClassNames('cat, dog ,bird', shards, 3)).toEqual(['cat', 'dog', 'bird']);
  const file = join(dir, 'names.txt');
  writeFileSync(file, 'tench\r\ngoldfish\ngreat white shark, carcharodon\n\n');
  expect(resolveClassNames(`@${file}`, shards, 3)).toEqual(['tench', 'goldfish', 'great white shark, carcharodon']);
});

it('names the digits on the built-in MNIST and nothing on other data', () => {
  expect(resolveClassNames(undefined, { train: 'mnist:train', test: 'mnist:test' }, 10)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  expect(resolveClassNames(undefined, { train: 'mnist:train', test: shards.test }, 10)).toBeUndefined();
  expect(resolveClassNames(undefined, shards, 10)).toBeUndefined();
});

it('rejects a count that is not the number of classes, an empty name and a missing file, naming the flag', () => {
  expect(() => resolveClassNames('a,b', shards, 3)).toThrow("--class-names: 2 names for 3 classes (the data's labels are 0..2)");
  expect(() => resolveClassNames('a,,c', shards, 3)).toThrow('--class-names: name 1 (label 1) is empty');
  expect(() => resolveClassNames(`@${join(dir, 'absent.txt')}`, shards, 3)).toThrow(/--class-names: cannot read '.*absent\.txt': ENOENT/);
});
