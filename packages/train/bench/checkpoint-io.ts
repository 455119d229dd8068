// Checkpoint write and read of one variant, as the trainer does them (model.safetensors, optimizer.safetensors with
// both AdamW moments, state.json, sealed with SHA-256s, fsynced), against the disk's own rate for the same bytes.
// The model is held by tfjs-cpu, the backend that holds the host copy when the WebGPU engine trains (wasm's memory
// cannot hold paper-scale models). Needs about 3x the parameter bytes free on disk under --dir (default: the system's
// temporary folder).
// Usage: node --conditions=@aim/source --import tsx bench/checkpoint-io.ts [variant] [--dir folder]
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAim, selectBackend } from '@aim/model';
import { loadCheckpointModel, writeCheckpoint } from '../src/checkpoint-state.js';
import type { CheckpointState } from '../src/checkpoint-state.js';
import { momentName } from '../src/index.js';

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { dir: { type: 'string', default: tmpdir() } } });
const variant = positionals[0] ?? 'aim-dev-25M';
// A folder of its own under --dir, the only thing the bench deletes, however it ends (gigabytes at paper scale).
const work = mkdtempSync(join(flags.dir, 'aim-checkpoint-bench-'));
try {
  const root = join(work, 'checkpoints');
  await selectBackend('cpu');

  const seconds = (t0: number): number => (performance.now() - t0) / 1000;
  let t0 = performance.now();
  const model = createAim(variant, {}, { seed: 0 });
  console.log(`${variant}: ${model.parameters().reduce((n, p) => n + p.variable.size, 0) / 1e6} M parameters, tfjs-cpu init ${seconds(t0).toFixed(1)} s`);

  // The moments as the engine hands them over: produced one tensor at a time while the file is written.
  const moments = (['m', 'v'] as const).flatMap((which) =>
    model.parameters().map((p) => ({
      name: momentName(which, p.name),
      dtype: 'F32' as const,
      shape: p.variable.shape,
      data: async () => new Float32Array(p.variable.size).fill(which === 'm' ? 1e-3 : 1e-6),
    })),
  );
  const state = {
    format: 'aim-train-checkpoint/1',
    step: 1,
    optimizerUpdates: 1,
    dataPosition: { microBatches: 1 },
    rng: { runSeed: 0, scheme: 'bench' },
    config: { variant },
    backend: 'cpu',
    savedAt: new Date().toISOString(),
  } as unknown as CheckpointState;

  t0 = performance.now();
  const dir = await writeCheckpoint({ root, keep: 1, state, model, moments });
  const writeS = seconds(t0);
  const bytes = ['model.safetensors', 'optimizer.safetensors'].reduce((n, f) => n + statSync(join(dir, f)).size, 0);

  t0 = performance.now();
  const other = createAim(variant, {}, { seed: 1 });
  const initS = seconds(t0);
  t0 = performance.now();
  await loadCheckpointModel(dir, other);
  const loadS = seconds(t0);

  // The limit: the same number of bytes written to the same disk from one buffer, then fsynced.
  rmSync(root, { recursive: true, force: true });
  const raw = join(work, 'raw');
  const chunk = Buffer.alloc(64 << 20, 1);
  t0 = performance.now();
  const fd = openSync(raw, 'w');
  for (let left = bytes; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  fsyncSync(fd);
  closeSync(fd);
  const rawS = seconds(t0);
  const gbps = (s: number): string => (bytes / 1e9 / s).toFixed(2);
  console.log(
    [
      '| what | seconds | GB/s |\n|---|---|---|',
      `| write checkpoint (${(bytes / 1e9).toFixed(2)} GB: model, both moments, sealed, fsynced) | ${writeS.toFixed(1)} | ${gbps(writeS)} |`,
      `| raw write + fsync of as many bytes | ${rawS.toFixed(1)} | ${gbps(rawS)} |`,
      `| read model.safetensors into a model (after its ${initS.toFixed(1)} s init) | ${loadS.toFixed(1)} | - |`,
      `checkpoint write / raw write rate = ${(rawS / writeS).toFixed(2)}`,
    ].join('\n'),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
