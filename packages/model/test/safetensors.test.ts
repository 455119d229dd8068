// safetensors reading/writing and AIM checkpoints: round trips, layouts, atomic writes, and strict rejection.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentiveProbe,
  CONFIG_METADATA_KEY,
  type SafetensorsWriteEntry,
  createAim,
  loadAimCheckpoint,
  numPatches,
  patchDim,
  readSafetensors,
  saveAimCheckpoint,
  tensorEntry,
  writeSafetensors,
} from '../src/index.js';

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'aim-safetensors-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Float32 -> IEEE half bits (round to nearest even), for values exactly representable in these tests. */
function toHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const frac = (u >>> 13) & 0x3ff;
  if (x === 0) return sign;
  return sign | (exp << 10) | frac;
}

describe('safetensors files', () => {
  it('round-trips F32, I64, I32, BOOL, U8 with metadata, and reads F16 / BF16 / F64 as float32', async () => {
    const path = join(dir, 'mixed.safetensors');
    const f32 = Float32Array.from({ length: 24 }, (_, i) => i * 0.25 - 3);
    const halfValues = [1, -2, 0.5, 1024, 0, -0.125];
    const bf16Values = [1, -2, 3.5, 65536, -0.25, 0];
    const bf16Bits = Uint16Array.from(bf16Values, (v) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16);
    const entries: SafetensorsWriteEntry[] = [
      { name: 'a.f32', dtype: 'F32', shape: [2, 3, 4], data: f32 },
      { name: 'b.i64', dtype: 'I64', shape: [], data: BigInt64Array.of(123456789012n) },
      { name: 'c.i32', dtype: 'I32', shape: [3], data: Int32Array.of(-1, 0, 7) },
      { name: 'd.bool', dtype: 'BOOL', shape: [2, 2], data: Uint8Array.of(1, 0, 0, 1) },
      { name: 'e.f16', dtype: 'F16', shape: [6], data: Uint16Array.from(halfValues, toHalfBits) },
      { name: 'f.bf16', dtype: 'BF16', shape: [2, 3], data: bf16Bits },
      { name: 'g.f64', dtype: 'F64', shape: [2], data: Float64Array.of(1.5, -1e-3) },
      { name: 'h.u8', dtype: 'U8', shape: [2], data: async () => Uint8Array.of(200, 3) },
      { name: 'i.empty', dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    ];
    await writeSafetensors(path, entries, { note: 'hello', n: '3' });

    const bytes = await readFile(path);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    expect((8 + headerLen) % 8).toBe(0); // data section 8-byte aligned

    const file = await readSafetensors(path);
    try {
      expect(file.metadata).toEqual({ note: 'hello', n: '3' });
      expect([...file.tensors.keys()]).toEqual(entries.map((e) => e.name));
      expect(file.info('a.f32').shape).toEqual([2, 3, 4]);
      expect(Array.from(await file.readFloat32('a.f32'))).toEqual(Array.from(f32));
      expect((await file.read('b.i64'))[0]).toBe(123456789012n);
      expect(Array.from((await file.read('c.i32')) as Int32Array)).toEqual([-1, 0, 7]);
      expect(Array.from(await file.readFloat32('e.f16'))).toEqual(halfValues);
      expect(Array.from(await file.readFloat32('f.bf16'))).toEqual(bf16Values);
      expect(Array.from(await file.readFloat32('g.f64'))).toEqual([1.5, Math.fround(-1e-3)]);
      expect(Array.from((await file.read('h.u8')) as Uint8Array)).toEqual([200, 3]);
      const boolT = await file.readTensor('d.bool');
      expect(boolT.dtype).toBe('bool');
      expect(Array.from(await boolT.data())).toEqual([1, 0, 0, 1]);
      boolT.dispose();
      const emptyT = await file.readTensor('i.empty');
      expect(emptyT.shape).toEqual([0, 5]);
      emptyT.dispose();
      await expect(file.readTensor('b.i64')).rejects.toThrow(/'b.i64' holds 123456789012, outside the int32 range/);
      await expect(file.readFloat32('c.i32')).rejects.toThrow(/'c.i32' has dtype I32, expected a floating type/);
      await expect(file.read('nope')).rejects.toThrow(/no tensor named 'nope'/);
    } finally {
      await file.close();
    }
  });

  it('writes atomically: no temporary files left, an existing file replaced only when complete', async () => {
    const path = join(dir, 'atomic.safetensors');
    await writeSafetensors(path, [{ name: 'x', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }]);
    const failing: SafetensorsWriteEntry[] = [
      { name: 'x', dtype: 'F32', shape: [2], data: Float32Array.of(3, 4) },
      { name: 'y', dtype: 'F32', shape: [3], data: Float32Array.of(1) }, // wrong length: fails mid-write
    ];
    await expect(writeSafetensors(path, failing)).rejects.toThrow(/tensor 'y': data has 4 bytes, F32 \[3\] needs 12/);
    const file = await readSafetensors(path);
    expect(Array.from(await file.readFloat32('x'))).toEqual([1, 2]);
    await file.close();
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('writes tf tensors through tensorEntry (int32 as I64 by default)', async () => {
    const path = join(dir, 'tensors.safetensors');
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const n = tf.scalar(9, 'int32');
    await writeSafetensors(path, [tensorEntry('a', a), tensorEntry('n', n)]);
    const file = await readSafetensors(path);
    expect(file.info('n').dtype).toBe('I64');
    expect((await file.read('n'))[0]).toBe(9n);
    expect(Array.from(await file.readFloat32('a'))).toEqual([1, 2, 3, 4]);
    await file.close();
    tf.dispose([a, n]);
  });

  it('rejects malformed files with the path and the reason', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['short', Buffer.from([1, 2, 3]), /only 3 bytes/],
      ['huge-header', Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]), /header length/],
      [
        'not-json',
        (() => {
          const h = Buffer.from('{nope');
          const l = Buffer.alloc(8);
          l.writeBigUInt64LE(BigInt(h.length));
          return Buffer.concat([l, h]);
        })(),
        /header is not JSON/,
      ],
      [
        'bad-offsets',
        (() => {
          const h = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } }));
          const l = Buffer.alloc(8);
          l.writeBigUInt64LE(BigInt(h.length));
          return Buffer.concat([l, h, Buffer.alloc(8)]);
        })(),
        /tensor 'w' data_offsets \[0, 8\] do not hold 16 bytes/,
      ],
      [
        'bad-dtype',
        (() => {
          const h = Buffer.from(JSON.stringify({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }));
          const l = Buffer.alloc(8);
          l.writeBigUInt64LE(BigInt(h.length));
          return Buffer.concat([l, h, Buffer.alloc(1)]);
        })(),
        /tensor 'w' has unsupported dtype "Q4"/,
      ],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = join(dir, `${name}.safetensors`);
      await writeFile(path, bytes);
      await expect(readSafetensors(path), name).rejects.toThrow(pattern);
    }
  });
});

describe('AIM checkpoints', () => {
  it('round-trips model, pretraining head, probe and extra tensors; the reloaded model computes the same loss', async () => {
    const path = join(dir, 'model.safetensors');
    const model = createAim('aim-dev-nano', {}, { seed: 5 });
    const c = model.config;
    const probe = new AttentiveProbe({ width: c.width, heads: c.heads, numClasses: 3, seed: 2 });
    const patches = tf.randomNormal([2, numPatches(c), patchDim(c)], 0, 1, 'float32', 8) as tf.Tensor3D;
    probe.forward(model.probeFeatures(patches, [0, 1]), 'train').dispose(); // moves the BN running stats
    const extra: SafetensorsWriteEntry = { name: 'optimizer.step', dtype: 'I64', shape: [], data: BigInt64Array.of(17n) };
    await saveAimCheckpoint(path, { model, probe, extra: [extra], metadata: { run: 'test' } });

    const file = await readSafetensors(path);
    expect(JSON.parse(file.metadata[CONFIG_METADATA_KEY])).toEqual(model.config);
    expect(file.metadata.run).toBe('test');
    expect(file.info('preprocessor.patchifier.proj.weight').shape).toEqual([32, 3, 4, 4]);
    expect(file.info('trunk.blocks.0.attn.qkv.weight').shape).toEqual([96, 32]);
    expect(file.info('head.bn.num_batches_tracked').dtype).toBe('I64');
    expect((await file.read('head.bn.num_batches_tracked'))[0]).toBe(1n);
    await file.close();

    const loaded = await loadAimCheckpoint(path);
    expect(loaded.extraNames).toEqual(['optimizer.step']);
    expect(loaded.model.config).toEqual(model.config);
    const prefix = Int32Array.of(3, 9);
    const [a, b] = await Promise.all([model, loaded.model].map((m) => m.pretrainLoss(patches, prefix).data()));
    expect(b[0]).toBe(a[0]);
    const feats = model.probeFeatures(patches, [0, 1]);
    const [la, lb] = await Promise.all([probe, loaded.probe!].map((p) => p.forward(feats, 'eval').data()));
    expect(Array.from(lb)).toEqual(Array.from(la));
    for (const m of [model, loaded.model]) m.dispose();
    probe.dispose();
    loaded.probe!.dispose();
    tf.dispose([patches, feats]);
  });

  it('maps the conv patch-embedding layout: conv [D,3,p,p] applied to the image equals the linear map on patches', async () => {
    const model = createAim('aim-dev-nano', {}, { seed: 6 });
    const c = model.config;
    const images = tf.randomNormal([1, 3, c.imageSize, c.imageSize], 0, 1, 'float32', 4) as tf.Tensor4D;
    const conv = model.stateTensor('preprocessor.patchifier.proj.weight'); // [D, 3, p, p]
    // The reference: a stride-p convolution in NCHW, computed directly.
    const [img, w] = await Promise.all([images.data(), conv.data()]);
    const p = c.patchSize;
    const grid = c.imageSize / p;
    const d = c.width;
    const expected = new Float32Array(grid * grid * d);
    for (let gy = 0; gy < grid; gy++)
      for (let gx = 0; gx < grid; gx++)
        for (let o = 0; o < d; o++) {
          let s = 0;
          for (let ch = 0; ch < 3; ch++)
            for (let r = 0; r < p; r++)
              for (let col = 0; col < p; col++) s += w[((o * 3 + ch) * p + r) * p + col] * img[(ch * c.imageSize + gy * p + r) * c.imageSize + gx * p + col];
          expected[(gy * grid + gx) * d + o] = s;
        }
    const patches = model.patchify(images);
    const wVar = model.parameters().find((q) => q.name === 'preprocessor.patchifier.proj.weight')!.variable;
    const actual = await tf.matMul(tf.reshape(patches, [grid * grid, patchDim(c)]), wVar as tf.Tensor2D).data();
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 4);
    tf.dispose([images, conv, patches]);
    model.dispose();
  });

  it('stateData (the host layout conversion checkpoints use) equals stateTensor for every tensor; loadStateData inverts it', async () => {
    const a = createAim('aim-dev-nano', {}, { seed: 1 });
    const b = createAim('aim-dev-nano', {}, { seed: 2 });
    const layouts = new Set<string>();
    for (const { name, shape } of a.stateSpecs()) {
      const t = a.stateTensor(name);
      const viaTensor = await t.data();
      t.dispose();
      const viaHost = await a.stateData(name);
      expect(viaHost, name).toEqual(viaTensor);
      b.loadStateData(name, Float32Array.from(viaHost), shape);
      const v = a.parameters().find((p) => p.name === name)?.variable ?? null;
      const w = b.parameters().find((p) => p.name === name)?.variable ?? null;
      if (v && w) expect(await w.data(), name).toEqual(await v.data());
      layouts.add(shape.length === 4 ? 'patch embedding' : shape.length === 2 && shape[0] !== shape[1] ? 'non-square linear' : 'other');
    }
    expect([...layouts].sort()).toEqual(['non-square linear', 'other', 'patch embedding']);
    const [name, shape] = ['trunk.blocks.0.attn.qkv.weight', [96, 32]];
    expect(() => b.loadStateData(name, new Float32Array(96 * 32), [32, 96])).toThrow(
      /tensor 'trunk.blocks.0.attn.qkv.weight' has shape \[32,96\], expected \[96,32\]/,
    );
    expect(() => b.loadStateData(name, new Float32Array(5), shape)).toThrow(/tensor 'trunk.blocks.0.attn.qkv.weight': 5 values for shape \[96,32\]/);
    expect(() => b.loadStateData('trunk.blocks.9.norm_1.weight', new Float32Array(32), [32])).toThrow(/unexpected tensor 'trunk.blocks.9.norm_1.weight'/);
    a.dispose();
    b.dispose();
  });

  it('saveAimCheckpoint returns the size and SHA-256 of the file it wrote', async () => {
    const model = createAim('aim-dev-nano', {}, { seed: 3 });
    const path = join(dir, 'digest.safetensors');
    const written = await saveAimCheckpoint(path, { model });
    const bytes = await readFile(path);
    expect(written).toEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    model.dispose();
  });

  it('stateDict / loadStateDict round-trip between two models', async () => {
    const a = createAim('aim-dev-nano', {}, { seed: 1 });
    const b = createAim('aim-dev-nano', {}, { seed: 2 });
    const sd = a.stateDict();
    b.loadStateDict(sd);
    const name = 'pretrain_head.decoder_blocks.1.mlp.fc1.weight';
    const [x, y] = await Promise.all([a.stateTensor(name).data(), b.stateTensor(name).data()]);
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(() => b.loadStateDict({ 'trunk.blocks.0.norm_1.weight': sd['trunk.blocks.0.norm_1.weight'] })).toThrow(
      /missing tensor 'preprocessor.patchifier.proj.weight'/,
    );
    expect(() => b.loadStateDict({ 'trunk.blocks.9.norm_1.weight': sd['trunk.blocks.0.norm_1.weight'] })).toThrow(
      /unexpected tensor 'trunk.blocks.9.norm_1.weight'/,
    );
    expect(() => b.loadStateDict({ 'trunk.blocks.0.attn.qkv.weight': sd['trunk.blocks.0.attn.proj.weight'] }, { partial: true })).toThrow(
      /tensor 'trunk.blocks.0.attn.qkv.weight' has shape \[32,32\], expected \[96,32\]/,
    );
    tf.dispose(sd);
    a.dispose();
    b.dispose();
  });

  describe('rejects a file that does not match the config, naming the tensor', () => {
    let good: string;
    let tensors: SafetensorsWriteEntry[];
    let metadata: Record<string, string>;

    beforeAll(async () => {
      good = join(dir, 'good.safetensors');
      const model = createAim('aim-dev-nano', {}, { seed: 1 });
      await saveAimCheckpoint(good, { model });
      model.dispose();
      const file = await readSafetensors(good);
      metadata = { ...file.metadata };
      tensors = [];
      for (const info of file.tensors.values()) {
        tensors.push({ name: info.name, dtype: info.dtype, shape: info.shape, data: await file.read(info.name) });
      }
      await file.close();
    });

    const variant = async (name: string, edit: (t: SafetensorsWriteEntry[]) => SafetensorsWriteEntry[]): Promise<string> => {
      const path = join(dir, `${name}.safetensors`);
      await writeSafetensors(path, edit(tensors.map((t) => ({ ...t }))), metadata);
      return path;
    };

    it('loads the unmodified file', async () => {
      const { model } = await loadAimCheckpoint(good);
      expect(model.hasPretrainHead).toBe(true);
      model.dispose();
    });

    it('missing key', async () => {
      const path = await variant('missing', (t) => t.filter((e) => e.name !== 'trunk.blocks.1.mlp.fc2.weight'));
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/missing tensor 'trunk.blocks.1.mlp.fc2.weight'/);
    });

    it('partial pretraining head', async () => {
      const path = await variant('partial-head', (t) => t.filter((e) => e.name !== 'pretrain_head.decoder_norm.bias'));
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/missing tensor 'pretrain_head.decoder_norm.bias'/);
    });

    it('wrong shape', async () => {
      const path = await variant('shape', (t) => t.map((e) => (e.name === 'trunk.post_trunk_norm.bias' ? { ...e, shape: [16, 2] } : e)));
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/tensor 'trunk.post_trunk_norm.bias' has shape \[16,2\], expected \[32\]/);
    });

    it('wrong dtype', async () => {
      const path = await variant('dtype', (t) => t.map((e) => (e.name === 'trunk.blocks.0.norm_2.weight' ? { ...e, dtype: 'I32' as const } : e)));
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/tensor 'trunk.blocks.0.norm_2.weight' has dtype I32, expected F64\/F32\/F16\/BF16/);
    });

    it('unknown tensor', async () => {
      const path = await variant('unknown', (t) => [...t, { name: 'trunk.blocks.7.norm_1.weight', dtype: 'F32', shape: [1], data: Float32Array.of(0) }]);
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/unexpected tensor 'trunk.blocks.7.norm_1.weight'/);
    });

    it('a config that does not fit the file', async () => {
      await expect(loadAimCheckpoint(good, { config: 'aim-dev-tiny' })).rejects.toThrow(
        /tensor 'preprocessor.patchifier.proj.weight' has shape \[32,3,4,4\], expected \[64,3,8,8\]/,
      );
    });

    it('no config anywhere', async () => {
      const path = join(dir, 'no-config.safetensors');
      await writeSafetensors(path, tensors);
      await expect(loadAimCheckpoint(path)).rejects.toThrow(/no config in metadata/);
    });
  });
});
