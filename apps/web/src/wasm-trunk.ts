// The trunk on tfjs-backend-wasm (XNNPACK, SIMD when the browser has it) for browsers without WebGPU: @aim/model's
// own tfjs model, loaded lazily (its own chunk and the .wasm files under tfjs-wasm/), so WebGPU users never fetch it.
import type { ProbeModel } from './probe-file.js';

export interface WasmTrunk {
  readonly label: string;
  extract(patches: Float32Array, rows: number, blocks: readonly number[]): Promise<Float32Array[]>;
  destroy(): Promise<void>;
}

/** Registers the wasm backend (once) and builds the model with the probe file's trunk. */
export async function createWasmTrunk(probeModel: ProbeModel): Promise<WasmTrunk> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { createAim } = await import('@aim/model/browser');
  if (tf.getBackend() !== 'wasm') {
    wasm.setWasmPaths(new URL('tfjs-wasm/', document.baseURI).href);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm did not start');
  }
  const { config } = probeModel;
  const model = createAim(config, {}, { pretrainHead: false });
  for (const p of model.parameters()) {
    const values = probeModel.trunk.get(p.name);
    if (!values) throw new Error(`wasm trunk: no values for '${p.name}'`);
    tf.tidy(() => p.variable.assign(tf.tensor(values, p.variable.shape, 'float32')));
  }
  const k = config.imageSize / config.patchSize;
  const per = k * k * (config.patchSize * config.patchSize * 3);
  return {
    label: 'tfjs-backend-wasm (@aim/model tfjs trunk)',
    extract: async (patches, rows, blocks) => {
      const outs = tf.tidy(() => model.extractFeatures(tf.tensor3d(patches.subarray(0, rows * per), [rows, k * k, per / (k * k)]), { blocks }));
      try {
        return await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
      } finally {
        tf.dispose(outs);
      }
    },
    destroy: async () => model.dispose(),
  };
}
