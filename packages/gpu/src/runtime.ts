// Materialises a described program on a GPUDevice and records its operations into command encoders.
// Pipelines are compiled once per distinct kernel source, bind groups made once per dispatch; recording a step is a
// walk over fixed arrays (no string keys, no allocation of GPU objects).
import { DeviceWatch } from './device-watch.js';
import { STEP_FIELDS, type StepValues } from './kernels/wgsl.js';
import { type BufferDesc, type Dispatch, type Kernel, type Op, PARAM_SLOT_BYTES, paramSlabBytes, type ProgramBuilder, STEP_UNIFORM_BYTES } from './program.js';

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Counters a test or benchmark reads: what the engine asked of the GPU. */
export interface GpuCounters {
  dispatches: number;
  commandBuffers: number;
  hostReads: number;
}

/** Dispatches per command buffer when profiling: two timestamps each, in a query set of at most 4096. */
const PROFILE_DISPATCHES = 2048;

export class Runtime {
  readonly device: GPUDevice;
  readonly counters: GpuCounters = { dispatches: 0, commandBuffers: 0, hostReads: 0 };
  /** Bytes of every buffer created (what `planMemory` predicts). */
  readonly allocatedBytes: number;
  readonly stepUniform: GPUBuffer;
  private readonly slab: GPUBuffer;
  private readonly gpuBuffers = new Map<number, GPUBuffer>();
  private readonly bindGroups = new Map<Dispatch, GPUBindGroup>();
  private readonly pipelines = new Map<string, Compiled>();
  private readonly compiledFor = new Map<Dispatch, Compiled>();
  private readonly watch: DeviceWatch;

  constructor(device: GPUDevice, program: ProgramBuilder) {
    // Before anything is allocated: a kernel whose WGSL enables a feature the device lacks would fail to compile.
    for (const { kernel } of program.dispatches) {
      const missing = (kernel.features ?? []).filter((f) => !device.features.has(f));
      if (missing.length > 0) {
        throw new Error(
          `kernel ${kernel.name} needs the device feature(s) ${missing.join(', ')}, which this device was not created with ` +
            '(requestEngineDevice(adapter, { subgroupMatrix: true }), on an adapter that lists them)',
        );
      }
    }
    this.device = device;
    this.watch = new DeviceWatch(device);
    let bytes = 0;
    for (const b of program.buffers) {
      const usage =
        b.role === 'readback' ? GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      this.gpuBuffers.set(b.id, device.createBuffer({ label: b.label, size: b.bytes, usage }));
      bytes += b.bytes;
    }
    this.stepUniform = device.createBuffer({
      label: 'step uniform',
      size: STEP_UNIFORM_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    bytes += STEP_UNIFORM_BYTES;
    const slabBytes = paramSlabBytes(program.dispatches.length);
    const slab = device.createBuffer({
      label: 'dispatch parameters',
      size: slabBytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.slab = slab;
    bytes += slabBytes;
    const staging = new ArrayBuffer(slabBytes);
    const view = new DataView(staging);
    program.dispatches.forEach((d, i) => {
      d.kernel.fields.forEach(([, type], f) => {
        const at = i * PARAM_SLOT_BYTES + f * 4;
        if (type === 'u32') view.setUint32(at, d.params[f], true);
        else view.setFloat32(at, d.params[f], true);
      });
    });
    device.queue.writeBuffer(slab, 0, staging);
    program.dispatches.forEach((d, i) => {
      const compiled = this.compile(d.kernel);
      this.compiledFor.set(d, compiled);
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: slab, offset: i * PARAM_SLOT_BYTES, size: Math.ceil((d.kernel.fields.length * 4) / 16) * 16 } },
      ];
      d.buffers.forEach((b, j) => {
        entries.push({ binding: j + 1, resource: { buffer: b === null ? this.stepUniform : this.gpu(b) } });
      });
      this.bindGroups.set(d, device.createBindGroup({ label: d.kernel.name, layout: compiled.layout, entries }));
    });
    this.allocatedBytes = bytes;
  }

  gpu(b: BufferDesc): GPUBuffer {
    const g = this.gpuBuffers.get(b.id);
    if (g === undefined) throw new Error(`buffer '${b.label}' was not materialised`);
    return g;
  }

  private compile(kernel: Kernel): Compiled {
    const cached = this.pipelines.get(kernel.code);
    if (cached) return cached;
    const module = this.device.createShaderModule({ label: kernel.name, code: kernel.code });
    const layout = this.device.createBindGroupLayout({
      label: kernel.name,
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        ...kernel.bindings.map((kind, i) => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: kind === 'step' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' } as GPUBufferBindingLayout,
        })),
      ],
    });
    const pipeline = this.device.createComputePipeline({
      label: kernel.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const compiled = { pipeline, layout };
    this.pipelines.set(kernel.code, compiled);
    return compiled;
  }

  /**
   * Records `ops` into `encoder`: consecutive dispatches share one compute pass. With `timestamps`, each dispatch gets
   * a pass of its own whose start and end go to that query set (queries 0, 1, 2, ... in dispatch order).
   */
  record(encoder: GPUCommandEncoder, ops: readonly Op[], timestamps?: GPUQuerySet): void {
    let pass: GPUComputePassEncoder | null = null;
    let query = 0;
    const endPass = (): void => {
      pass?.end();
      pass = null;
    };
    for (const op of ops) {
      if (op.kind === 'dispatch') {
        if (timestamps) {
          endPass();
          pass = encoder.beginComputePass({
            timestampWrites: { querySet: timestamps, beginningOfPassWriteIndex: query, endOfPassWriteIndex: query + 1 },
          });
          query += 2;
        }
        pass ??= encoder.beginComputePass();
        const compiled = this.compiledFor.get(op)!;
        pass.setPipeline(compiled.pipeline);
        pass.setBindGroup(0, this.bindGroups.get(op)!);
        pass.dispatchWorkgroups(op.workgroups[0], op.workgroups[1], op.workgroups[2]);
        this.counters.dispatches += 1;
      } else if (op.kind === 'clear') {
        endPass();
        encoder.clearBuffer(this.gpu(op.buffer), op.offset ?? 0, op.bytes ?? op.buffer.bytes);
      } else {
        endPass();
        encoder.copyBufferToBuffer(this.gpu(op.src), op.srcOffset, this.gpu(op.dst), op.dstOffset, op.bytes);
      }
    }
    endPass();
  }

  /** Throws a GpuDeviceError if the device reported an error or was lost since this runtime was made. */
  checkDevice(): void {
    this.watch.check();
  }

  /** Records `ops` into a fresh command buffer and submits it. */
  submit(ops: readonly Op[], before?: (encoder: GPUCommandEncoder) => void): void {
    this.checkDevice(); // no more work after a failed command or a lost device
    const encoder = this.device.createCommandEncoder();
    before?.(encoder);
    this.record(encoder, ops);
    this.device.queue.submit([encoder.finish()]);
    this.counters.commandBuffers += 1;
  }

  /**
   * Runs `ops` with every dispatch timed on the GPU (timestamp queries; the device needs 'timestamp-query') and
   * returns each dispatch's nanoseconds, in order. A pass per dispatch and the reads cost time: for finding where the
   * time goes, not for running. Command buffers of at most PROFILE_DISPATCHES dispatches (a query set's size limit).
   */
  async profile(ops: readonly Op[]): Promise<Float64Array> {
    if (!this.device.features.has('timestamp-query')) {
      throw new Error("profiling needs the device feature 'timestamp-query' (requestEngineDevice(adapter, { timestamps: true }))");
    }
    const dispatches = ops.filter((op) => op.kind === 'dispatch').length;
    const out = new Float64Array(dispatches);
    const count = 2 * Math.min(PROFILE_DISPATCHES, Math.max(1, dispatches));
    const querySet = this.device.createQuerySet({ type: 'timestamp', count });
    const resolved = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      let done = 0; // dispatches timed so far
      let start = 0;
      while (start < ops.length) {
        // The next run of ops holding at most PROFILE_DISPATCHES dispatches.
        let end = start;
        let n = 0;
        while (end < ops.length && (ops[end].kind !== 'dispatch' || n < PROFILE_DISPATCHES)) n += ops[end++].kind === 'dispatch' ? 1 : 0;
        this.checkDevice();
        const encoder = this.device.createCommandEncoder();
        this.record(encoder, ops.slice(start, end), querySet);
        if (n > 0) {
          encoder.resolveQuerySet(querySet, 0, 2 * n, resolved, 0);
          encoder.copyBufferToBuffer(resolved, 0, readback, 0, 2 * n * 8);
        }
        this.device.queue.submit([encoder.finish()]);
        this.counters.commandBuffers += 1;
        if (n > 0) {
          await readback.mapAsync(GPUMapMode.READ, 0, 2 * n * 8);
          try {
            this.checkDevice();
            const t = new BigUint64Array(readback.getMappedRange(0, 2 * n * 8));
            for (let i = 0; i < n; i++) out[done + i] = t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) : 0;
          } finally {
            readback.unmap();
          }
        }
        done += n;
        start = end;
      }
      return out;
    } finally {
      querySet.destroy();
      resolved.destroy();
      readback.destroy();
    }
  }

  /** Copies `bytes` from a mappable buffer once the GPU is done with it (one host read). */
  async read(buffer: BufferDesc, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const g = this.gpu(buffer);
    this.counters.hostReads += 1;
    try {
      await g.mapAsync(GPUMapMode.READ, offset, bytes);
    } catch (err) {
      this.checkDevice(); // a lost device fails the map: say so rather than Dawn's abort
      throw err;
    }
    try {
      this.checkDevice(); // what this read returns was computed by commands that may have failed
      return g.getMappedRange(offset, bytes).slice(0);
    } finally {
      g.unmap();
    }
  }

  /** Writes the per-step uniform (STEP_FIELDS in order, f32). */
  writeStep(values: StepValues): void {
    this.device.queue.writeBuffer(
      this.stepUniform,
      0,
      Float32Array.from(STEP_FIELDS, (f) => values[f]),
    );
  }

  write(buffer: BufferDesc, data: ArrayBufferView, offsetBytes = 0): void {
    this.device.queue.writeBuffer(this.gpu(buffer), offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  destroy(): void {
    this.watch.dispose();
    for (const b of this.gpuBuffers.values()) b.destroy();
    this.stepUniform.destroy();
    this.slab.destroy();
  }
}
