// A runtime kept across several submissions, with the per-step uniform written the way the engine writes it
// (STEP_FIELDS in order, f32, at offset 0 of Runtime.stepUniform): for kernels that read `step`, and for tests that
// run more than one step on the same buffers (the optimizer's sticky gate).
import { NEUTRAL_STEP, type StepValues } from '../src/kernels/wgsl.js';
import { type BufferDesc, type Op, ProgramBuilder } from '../src/program.js';
import { Runtime } from '../src/runtime.js';

/** Neutral step values (what the engine's evalLoss writes), overridden by `values`. */
export function stepValues(values: Partial<StepValues> = {}): StepValues {
  return { ...NEUTRAL_STEP, ...values };
}

export class Session {
  readonly pb = new ProgramBuilder();
  private rt: Runtime | undefined;
  private readonly uploads: [BufferDesc, ArrayBufferView][] = [];
  private readonly readbacks = new Map<number, BufferDesc>();

  constructor(private readonly device: GPUDevice) {}

  /** A storage buffer of `data.length` floats holding `data` once the session starts. */
  input(label: string, data: Float32Array | Uint32Array): BufferDesc {
    const b = this.pb.buffer(label, Math.max(1, data.length), 'io');
    this.readbacks.set(b.id, this.pb.buffer(`${label} readback`, Math.max(1, data.length), 'readback'));
    this.uploads.push([b, data]);
    return b;
  }

  /** Materialises the program (every dispatch built so far) and uploads the inputs. */
  start(): Runtime {
    if (this.rt) throw new Error('session already started');
    this.rt = new Runtime(this.device, this.pb);
    for (const [b, data] of this.uploads) this.rt.write(b, data);
    return this.rt;
  }

  private runtime(): Runtime {
    if (!this.rt) throw new Error('session not started');
    return this.rt;
  }

  write(b: BufferDesc, data: Float32Array | Uint32Array, offsetBytes = 0): void {
    this.runtime().write(b, data, offsetBytes);
  }

  /** Writes the per-step uniform as the engine does. */
  step(values: StepValues): void {
    this.runtime().writeStep(values);
  }

  submit(ops: readonly Op[]): void {
    this.runtime().submit(ops);
  }

  async read(b: BufferDesc): Promise<Float32Array> {
    const rb = this.readbacks.get(b.id);
    if (!rb) throw new Error(`no readback for '${b.label}'`);
    const rt = this.runtime();
    rt.submit([{ kind: 'copy', src: b, srcOffset: 0, dst: rb, dstOffset: 0, bytes: b.bytes }]);
    return new Float32Array(await rt.read(rb, b.bytes));
  }

  destroy(): void {
    this.rt?.destroy();
  }
}
