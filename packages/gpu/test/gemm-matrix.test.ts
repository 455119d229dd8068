// f16 subgroup-matrix GEMM tiles: WGSL and pipelines validated by Dawn on its null backend, the one adapter here that
// offers shader-f16 and subgroup matrices (it validates everything and runs nothing; the numbers are checked on a GPU
// by bench/device/parity.ts). A device without the features gets an error that names them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAimConfig } from '@aim/model';
import { create, globals } from 'webgpu';
import { AimEngine, type GemmTile, ProgramBuilder, Runtime, gemm, requestEngineDevice } from '../src/index.js';
import { SUBGROUP_MATRIX_DAWN_TOGGLES, adapterSubgroupInfo } from '../src/device.js';
import { gemmThreads, gemmWorkgroupBytes } from '../src/kernels/gemm.js';
import { matrixTileError } from '../bench/matrix.js';

Object.assign(globalThis, globals);

let adapter: GPUAdapter;
let device: GPUDevice;
let tile: GemmTile;
// Held so that the instance outlives its devices.
let instance: GPU;

beforeAll(async () => {
  instance = create(['backend=null', `enable-dawn-features=${SUBGROUP_MATRIX_DAWN_TOGGLES.join(',')}`]);
  const found = await instance.requestAdapter();
  if (!found) throw new Error("Dawn's null backend gave no adapter");
  adapter = found;
  device = await requestEngineDevice(adapter, { subgroupMatrix: true });
  // Dawn requires the workgroup's x size to be a multiple of the largest subgroup size (128 on the null backend).
  const subgroupSize = adapterSubgroupInfo(adapter).subgroupMaxSize!;
  tile = { bm: 64, bn: 64, bk: 32, tm: 32, tn: 64, prefetch: true, matrix: { m: 16, n: 16, k: 16, subgroupSize } };
});
afterAll(() => device?.destroy());

/** Validation errors of materialising one GEMM call with `t` (shader module, pipeline, bind group). */
async function validate(t: GemmTile, call: Omit<Parameters<typeof gemm>[1], 'a' | 'b' | 'c' | 'biasRef' | 'auxRef' | 'tile'>): Promise<string | undefined> {
  const { m, n, k } = call;
  const pb = new ProgramBuilder();
  const a = { buf: pb.buffer('A', m * k, 'io'), ld: call.transA ? m : k };
  const b = { buf: pb.buffer('B', k * n, 'io'), ld: call.transB ? k : n };
  const c = { buf: pb.buffer('C', m * n, 'io'), ld: n };
  const biasRef = call.bias ? { buf: pb.buffer('bias', n, 'io'), offset: 0 } : undefined;
  const auxRef = call.aux ? { buf: pb.buffer('aux', m * n, 'io'), ld: n } : undefined;
  gemm(pb, { ...call, a, b, c, biasRef, auxRef, tile: t });
  device.pushErrorScope('validation');
  const rt = new Runtime(device, pb);
  const err = await device.popErrorScope();
  rt.destroy();
  return err?.message;
}

describe('f16 subgroup-matrix GEMM kernels', () => {
  it('compile in every layout with every epilogue the step uses', async () => {
    const epilogues = [
      {},
      { bias: true, aux: 'storePre', gelu: true },
      { bias: true, aux: 'add' },
      { aux: 'geluGrad', accumulate: true },
      { accumulate: true },
    ] as const;
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
    ]) {
      for (const epi of epilogues) {
        // Sizes that are not multiples of the tile: the loads pad with zeros, the stores are bounds-checked.
        expect(await validate(tile, { m: 70, n: 50, k: 40, transA, transB, ...epi }), `${transA}${transB} ${JSON.stringify(epi)}`).toBeUndefined();
      }
    }
  });

  it('compile without prefetch and with other subgroup blocks', async () => {
    for (const t of [
      { ...tile, prefetch: false },
      { ...tile, bm: 32, bn: 128, tm: 32, tn: 64 },
      { ...tile, bk: 16, tm: 16, tn: 64, bm: 32 },
    ]) {
      expect(gemmThreads(t)).toBeLessThanOrEqual(256);
      expect(await validate(t, { m: 64, n: 128, k: 48 }), JSON.stringify(t)).toBeUndefined();
    }
  });

  it('count their workgroup memory: staged f16 operands plus one f32 result matrix per subgroup', () => {
    // A: 64 x (32 + 8) halves, B: 32 x (64 + 8) halves, 2 subgroups x 16 x 16 floats.
    expect(gemmWorkgroupBytes(tile)).toBe((64 * 40 + 32 * 72) * 2 + 2 * 256 * 4);
  });

  it('refuse tiles whose blocks are not made of whole matrices', () => {
    expect(() => gemm(new ProgramBuilder(), { m: 8, n: 8, k: 8, a: dummy(), b: dummy(), c: dummy(), tile: { ...tile, tm: 24 } })).toThrow(/not valid/);
    expect(() => gemm(new ProgramBuilder(), { m: 8, n: 8, k: 8, a: dummy(), b: dummy(), c: dummy(), tile: { ...tile, bk: 24 } })).toThrow(/not valid/);
  });

  it('run a whole engine: every unbatched GEMM of the step on matrix tiles', async () => {
    const config = resolveAimConfig('aim-dev-nano');
    // Every key gets the matrix tile (the tuned-tiles map a sweep would produce).
    const everyKey = new (class extends Map<string, GemmTile> {
      override get(): GemmTile {
        return tile;
      }
    })();
    device.pushErrorScope('validation');
    const engine = await AimEngine.create(device, config, { batch: 2, gemmTiles: everyKey });
    const kernels = new Set(engine.program.pb.dispatches.map((d) => d.kernel.name));
    await engine.destroy();
    expect((await device.popErrorScope())?.message).toBeUndefined();
    expect([...kernels].filter((k) => k.endsWith('-f16mx')).sort()).toEqual(['gemmNN-f16mx', 'gemmNT-f16mx', 'gemmTN-f16mx']);
  });
});

it("the bench's error check reports why Dawn refused a tile (here: subgroups of 32 on an adapter whose largest is 128)", async () => {
  const refused = { ...tile, matrix: { ...tile.matrix!, subgroupSize: 32 } };
  await expect(matrixTileError(device, refused)).rejects.toThrow(/multiple of the device maxSubgroupSize/);
});

describe('without the features', () => {
  it('a device that lacks them: the kernel names what is missing', async () => {
    const plain = await requestEngineDevice((await instance.requestAdapter())!);
    try {
      const pb = new ProgramBuilder();
      const buf = pb.buffer('X', 64 * 64, 'io');
      gemm(pb, { m: 64, n: 64, k: 64, a: { buf, ld: 64 }, b: { buf, ld: 64 }, c: { buf, ld: 64 }, tile });
      expect(() => new Runtime(plain, pb)).toThrow(/needs the device feature\(s\) shader-f16, chromium-experimental-subgroup-matrix/);
    } finally {
      plain.destroy();
    }
  });

  it('an adapter that lacks them: requestEngineDevice says which and how Dawn offers them', async () => {
    const safe = create(['backend=null']);
    const plainAdapter = await safe.requestAdapter();
    expect(plainAdapter).not.toBeNull();
    await expect(requestEngineDevice(plainAdapter!, { subgroupMatrix: true })).rejects.toThrow(
      /does not offer chromium-experimental-subgroup-matrix.*toggles allow_unsafe_apis,vulkan_enable_f16_on_nvidia/,
    );
  });
});

function dummy() {
  return { buf: { id: 0, label: 'x', bytes: 256, role: 'io' as const }, ld: 8 };
}
