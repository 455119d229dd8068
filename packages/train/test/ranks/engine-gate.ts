// One process of test/data-parallel.test.ts: two data-parallel WebGPU engine steps under mpirun, where only rank 1's
// micro-batch of the second step holds a NaN. Writes what this rank saw: the step its NonFiniteLossError named, and
// whether its parameters stayed those after the first step.
// usage: engine-gate.ts <out folder>
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AimEngine } from '@aim/gpu';
import { createAim, samplePrefixLengths } from '@aim/model';
import { initMpi } from '@aim/mpi';
import { ADAMW_DEFAULTS, NonFiniteLossError, engineRunner, selectCompute, type PatchBatchLike } from '../../src/index.js';

const [out] = process.argv.slice(2);
const compute = await selectCompute('webgpu');
const comm = initMpi();
const model = createAim('aim-dev-nano', {}, { seed: 1 + comm.rank }); // different weights per rank: rank 0's are broadcast
const engine = await AimEngine.create(compute.device!, model.config, { batch: 2 });
const runner = await engineRunner(engine, { model, adamw: ADAMW_DEFAULTS, samplePrefixLengths, runSeed: 3, clipNorm: 1, parallel: comm });
const k = (model.config.imageSize / model.config.patchSize) ** 2;
const pd = model.config.patchSize ** 2 * 3;
const batch = (seed: number): PatchBatchLike => ({
  patches: new Float32Array(2 * k * pd).map((_, i) => Math.sin(i * 0.37 + seed)),
  batchSize: 2,
  numPatches: k,
  patchDim: pd,
});
const result: { firstLoss?: number; haltedAt?: number; message?: string; unchanged?: boolean } = {};
result.firstLoss = (await runner.step(0, [batch(1), batch(2)], 1e-3)).loss;
const afterFirst = await engine.readParameters();
const bad = batch(4);
(bad.patches as Float32Array)[100] = Number.NaN; // micro-batch 1 of the step: rank 1's share
try {
  await runner.step(1, [batch(3), bad], 1e-3);
} catch (err) {
  if (!(err instanceof NonFiniteLossError)) throw err;
  result.haltedAt = err.step;
  result.message = err.message;
}
const now = await engine.readParameters();
result.unchanged = [...afterFirst].every(([name, v]) => Buffer.from(v.buffer).equals(Buffer.from(now.get(name)!.buffer)));
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `gate-rank${comm.rank}.json`), JSON.stringify(result));
await runner.dispose();
model.dispose();
comm.finalize();
