// Runs one-off programs on the test device: upload arrays, run dispatches, read buffers back.
import { type BufferDesc, type Op, ProgramBuilder } from '../src/program.js';
import { Runtime } from '../src/runtime.js';

export { randomArray, relError } from '../src/compare.js';

export interface Harness {
  pb: ProgramBuilder;
  /** A storage buffer holding `data` once the program runs. */
  input(label: string, data: Float32Array | Uint32Array | Int32Array): BufferDesc;
  /** Builds the runtime, uploads inputs, runs `ops` (default: every dispatch in order), reads `outputs`. */
  run(outputs: BufferDesc[], ops?: Op[]): Promise<Float32Array[]>;
}

export function harness(device: GPUDevice): Harness {
  const pb = new ProgramBuilder();
  const uploads: [BufferDesc, ArrayBufferView][] = [];
  return {
    pb,
    input(label, data) {
      const b = pb.buffer(label, Math.max(1, data.length), 'io');
      uploads.push([b, data]);
      return b;
    },
    async run(outputs, ops) {
      const reads = outputs.map((o) => pb.buffer(`${o.label} readback`, o.bytes / 4, 'readback'));
      const rt = new Runtime(device, pb);
      try {
        for (const [b, data] of uploads) rt.write(b, data);
        const copies: Op[] = outputs.map((o, i) => ({ kind: 'copy', src: o, srcOffset: 0, dst: reads[i], dstOffset: 0, bytes: o.bytes }));
        rt.submit([...(ops ?? pb.dispatches), ...copies]);
        const out: Float32Array[] = [];
        for (let i = 0; i < outputs.length; i++) out.push(new Float32Array(await rt.read(reads[i], outputs[i].bytes)));
        return out;
      } finally {
        rt.destroy();
      }
    },
  };
}
