// One real call of each installed tarball, run by pack-check.sh from the scratch folder it installed them in (so every
// import below resolves the way it does for a user: node_modules/@aim/*/dist, no workspace, no source condition).
// It writes and reads a shard (@aim/webdataset), loads a batch of real JPEGs from it (@aim/data), and runs the model's
// forward pass and loss on that batch on the cpu backend (@aim/model); then checks that the GPU path, asked for
// without the optional `webgpu` package, fails with the install command. Any failure throws and exits non-zero.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ShardWriter, readSamples, sampleCls } from '@aim/webdataset';
import { createLoader } from '@aim/data';
import { BackendUnavailableError, createAim, samplePrefixLengths, selectBackend } from '@aim/model';
// The caller's own tfjs: @aim/model's peer, so this is the same engine (and the same tensors) the model uses.
import * as tf from '@tensorflow/tfjs-core';
// @aim/data's own dependency (installed with it), used here only to make the test images.
import sharp from 'sharp';

const here = process.cwd();
const step = (name, what) => console.log(`pack-check: ${name}: ${what}`);

// What npm installed: the @aim/* packages from the tarballs, one tfjs-core, no webgpu.
const lock = JSON.parse(readFileSync(join(here, 'node_modules/.package-lock.json'), 'utf8')).packages;
const aim = Object.entries(lock).filter(([path]) => path.startsWith('node_modules/@aim/'));
assert.deepEqual(aim.map(([path]) => path).sort(), [
  'node_modules/@aim/base',
  'node_modules/@aim/data',
  'node_modules/@aim/model',
  'node_modules/@aim/webdataset',
]);
for (const [path, entry] of aim) assert.match(entry.resolved ?? '', /^file:/, `${path} must come from its tarball, not the registry`);
const cores = Object.keys(lock).filter((path) => path.endsWith('node_modules/@tensorflow/tfjs-core'));
assert.deepEqual(cores, ['node_modules/@tensorflow/tfjs-core'], 'one tfjs-core, shared by the caller and @aim/model');
assert.ok(!existsSync(join(here, 'node_modules/webgpu')), "the optional peer 'webgpu' must not be installed by default");
step(
  'install',
  `${aim.map(([p, e]) => `${p.slice('node_modules/'.length)}@${e.version}`).join(', ')} from tarballs; tfjs-core ${lock['node_modules/@tensorflow/tfjs-core'].version} once; no webgpu`,
);

// Every source map (.js.map, .d.ts.map) points at files the package ships, so a debugger or go-to-definition in the
// user's editor lands in the TypeScript source.
let maps = 0;
for (const [path] of aim) {
  const dir = join(here, path);
  for (const file of readdirSync(join(dir, 'dist'), { recursive: true }).filter((f) => f.endsWith('.map'))) {
    const map = join(dir, 'dist', file);
    const { sources } = JSON.parse(readFileSync(map, 'utf8'));
    for (const source of sources) assert.ok(existsSync(resolve(dirname(map), source)), `${map} points at ${source}, which the package does not ship`);
    maps++;
  }
}
assert.ok(maps > 0, 'the packages ship source maps');
step('source maps', `${maps} maps, every source they name is in its package`);

// Every relative link of a package's README (what npm shows and what lands in node_modules) names a file the package
// ships: a link into the repository around it would be dead there.
let links = 0;
for (const [path] of aim) {
  const readme = join(here, path, 'README.md');
  assert.ok(existsSync(readme), `${path} ships no README.md`);
  for (const [, target] of readFileSync(readme, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:|^#/.test(target)) continue; // a URL or an anchor in the README itself
    const file = target.split('#')[0];
    assert.ok(existsSync(resolve(dirname(readme), file)), `${path}/README.md links to ${target}, which the package does not ship`);
    links++;
  }
}
step('readmes', `every package has a README; ${links} relative links in them, each to a file its package ships`);

// @aim/webdataset: a shard of three small real JPEGs (a colour gradient each), written and read back.
const shard = join(here, 'shard-000000.tar');
const images = [];
for (let i = 0; i < 3; i++) {
  const [w, h] = [48 + 8 * i, 40];
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rgb.set([(x * 255) / w, (y * 255) / h, 80 * i], (y * w + x) * 3);
  }
  images.push({
    __key__: `img${i}`,
    jpg: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .jpeg()
      .toBuffer(),
    cls: i,
  });
}
const writer = new ShardWriter({ pattern: join(here, 'shard-%06d.tar') });
for (const sample of images) await writer.write(sample);
assert.deepEqual(await writer.close(), [shard]);
const read = [];
for await (const sample of readSamples(shard)) read.push(sample);
assert.deepEqual(
  read.map((s) => [s.__key__, s.jpg.length, sampleCls(s)]),
  images.map((s) => [s.__key__, s.jpg.length, s.cls]),
);
step('webdataset', `read ${read.length} samples from ${shard}: ${read.map((s) => `${s.__key__} (jpg ${s.jpg.length} B, cls ${sampleCls(s)})`).join(', ')}`);

// @aim/data: one batch of all three, through its worker pool (dist/worker.js) and WebAssembly kernels.
const [imageSize, patchSize] = [16, 4]; // aim-dev-nano's
const loader = createLoader({ shards: shard, batchSize: 3, imageSize, patchSize, transform: 'eval', workers: 1, labelKey: 'cls' });
let batch;
try {
  for await (const b of loader) {
    batch = b;
    break;
  }
} finally {
  await loader.close();
}
assert.ok(batch, 'the loader produced no batch');
assert.equal(batch.patches.length, batch.batchSize * batch.numPatches * batch.patchDim);
assert.ok(batch.patches.every(Number.isFinite), 'non-finite patch values');
const range = batch.patches.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);
step(
  'data',
  `batch [${batch.batchSize}, ${batch.numPatches}, ${batch.patchDim}], labels [${[...batch.labels]}], keys [${batch.keys}], ` +
    `values ${range[0].toFixed(3)}..${range[1].toFixed(3)}`,
);

// @aim/model: aim-dev-nano's forward pass and loss on that batch, on the cpu backend.
const selection = await selectBackend('cpu');
assert.equal(tf.getBackend(), 'cpu', "the caller's tfjs must see the backend @aim/model selected");
const model = createAim('aim-dev-nano', {}, { seed: 0 });
const patches = tf.tensor3d(batch.patches, [batch.batchSize, batch.numPatches, batch.patchDim]);
const prefix = samplePrefixLengths(batch.batchSize, batch.numPatches, 0);
const predictions = model.forwardPretrain(patches, prefix);
const loss = (await model.pretrainLoss(patches, prefix).data())[0];
assert.deepEqual(predictions.shape, [batch.batchSize, batch.numPatches, batch.patchDim]);
assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
step('model', `${selection.reason}; aim-dev-nano forward [${patches.shape}] -> [${predictions.shape}], prefix [${[...prefix]}], loss ${loss.toFixed(4)}`);
tf.dispose([patches, predictions]);
model.dispose();

// The GPU path without the optional package: a clear error naming the install command, only when asked for.
await assert.rejects(selectBackend('webgpu'), (err) => {
  assert.ok(err instanceof BackendUnavailableError, String(err));
  assert.match(err.message, /`npm install webgpu`/);
  step('model', `selectBackend('webgpu') without the package: ${err.message}`);
  return true;
});
console.log('pack-check: passed');
