// One process of test/data-parallel.test.ts: a run of `runPretraining` on the cpu backend or the WebGPU engine (each
// rank on a device of its own), data parallel when started by mpirun. Writes this rank's step losses, validation loss,
// loader stats and final parameters (raw float32, parameter order).
// usage: equivalence.ts <out folder> <train shards> <val shards> <steps> <batch size> <accum> [cpu | webgpu]
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AimEngine } from '@aim/gpu';
import { detectLaunch, initMpi } from '@aim/mpi';
import { createRunParts, flagsToValues, resolveConfig, runPretraining, selectCompute } from '../../src/index.js';

const [out, train, val, steps, batch, accum, backend = 'cpu'] = process.argv.slice(2);
const compute = await selectCompute(backend === 'webgpu' ? 'webgpu' : 'cpu');
const parallel = detectLaunch().launcher ? initMpi() : undefined;
const rank = parallel?.rank ?? 0;
const flags = new Map(
  Object.entries({
    '--preset': 'smoke',
    '--variant': 'aim-dev-nano',
    '--data': train,
    '--val-data': val,
    '--steps': steps,
    '--batch-size': batch,
    '--accum': accum,
    '--backend': backend,
    '--workers': '1',
    '--prefetch': '2',
    '--save-every': steps,
    '--val-every': '5',
    '--val-batches': '2',
    '--seed': '3',
  }),
);
const config = resolveConfig({ flags: flagsToValues(flags) });
const host = createRunParts({ config, data: { train: config.data, val: config.valData }, backend: compute.backend });
// The engine's parameters come back to the host model at the last step's checkpoint (save-every = steps), on every rank.
const parts = compute.device ? { ...host, engine: await AimEngine.create(compute.device, host.model.config, { batch: config.batchSize }) } : host;
const losses: number[] = [];
const vals: number[] = [];
const summary = await runPretraining({
  config,
  runDir: join(out, 'run'),
  parts,
  ...(parallel ? { parallel } : {}),
  hooks: { onStep: (r) => losses.push(r.loss), onValidation: (_s, l) => vals.push(l) },
});
const params = parts.model.parameters();
const flat = new Float32Array(params.reduce((n, p) => n + p.variable.size, 0));
let offset = 0;
for (const p of params) {
  flat.set(p.variable.dataSync() as Float32Array, offset);
  offset += p.variable.size;
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `params-rank${rank}.bin`), flat);
writeFileSync(
  join(out, `losses-rank${rank}.json`),
  JSON.stringify({ losses, vals, images: summary.imagesPerSecond * summary.trainSeconds, dataStats: summary.dataStats }),
);
parts.model.dispose();
parallel?.finalize();
