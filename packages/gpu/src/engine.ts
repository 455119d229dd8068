// The WebGPU engine: AIM's pretraining step (forward, backward, clipping, AdamW, accumulation) and feature extraction
// on one GPUDevice. A step uploads the micro-batches, submits one command buffer per micro-batch and one for the
// update, and never waits: its loss, gradient norm and non-finite flag come back through a promise.
import { type AimConfig, numPatches, patchDim, sinCosPositionEmbedding2d } from '@aim/model/spec';
import { type EngineOptions, type EngineProgram, READBACK_SLOTS, describeEngine, planMemory } from './describe.js';
import { STAT, STATS_FLOATS } from './kernels/optimizer.js';
import { NEUTRAL_STEP, type StepValues } from './kernels/wgsl.js';
import type { BufferDesc, Op } from './program.js';
import { Runtime } from './runtime.js';

export interface MicroBatch {
  /** [batch, K, p*p*3] row-major, batch <= the engine's micro-batch size. */
  readonly patches: Float32Array;
  /** Per-sample prefix lengths in 1..K-1. */
  readonly prefixLengths: Int32Array;
}

export interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global-norm clipping threshold; 0 turns clipping off. */
  readonly clipNorm: number;
  /**
   * Loss scaling (default 1): the backward runs on gradScale times the gradient, and the norm, clipping and update
   * divide it out again. A power of two keeps f32 steps bit for bit; with f16 GEMM tiles it keeps small gradients
   * representable. Too large a scale overflows, and the non-finite gate then stops the run as for any non-finite
   * gradient.
   */
  readonly gradScale?: number;
  /**
   * Dynamic loss scaling as PyTorch's GradScaler does it (instead of gradScale): the backward runs at a scale kept on
   * the GPU, from `initial` (default 2^16). A step whose scaled gradients overflow at a finite loss updates nothing
   * (`skipped`) and halves the scale; `growthInterval` (default 2000) finite steps in a row double it. AdamW's bias
   * correction counts the updates applied. A non-finite loss, or an overflow at a scale of 1 or less, halts as without
   * scaling. step() only: the data-parallel step takes a fixed gradScale.
   */
  readonly dynamicScale?: { readonly initial?: number; readonly growthInterval?: number };
}

export interface EngineStepStats {
  /** Loss of the whole (accumulated) batch. */
  readonly loss: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** True when the loss or the gradient was not finite: the update was not applied (nor any later one). */
  readonly nonFinite: boolean;
  /** Dynamic loss scaling: the gradients overflowed, this step updated nothing and the scale was halved. */
  readonly skipped: boolean;
  /** The loss scale of the next step (the fixed gradScale without dynamic scaling). */
  readonly lossScale: number;
}

export interface FeatureRequest {
  /** 0-based block indices whose raw outputs to return, in this order. */
  readonly blocks: readonly number[];
  /** Per-sample prefix lengths for prefix-causal attention; omitted = bidirectional. */
  readonly prefixLengths?: Int32Array;
}

/** One dispatch of a profiled step: its kernel, the kernel's parameters (a GEMM's first three are M, N, K), its grid, its time. */
export interface ProfiledDispatch {
  readonly kernel: string;
  readonly params: readonly number[];
  readonly workgroups: readonly [number, number, number];
  readonly ns: number;
}

/** The engine's per-parameter arenas: weights, gradients and the two AdamW moments (all in compute layout). */
export type ArenaName = 'parameters' | 'gradients' | 'm' | 'v';

/** Bytes written to the GPU between waits while loading tensors (see loadTensors). */
const UPLOAD_WAIT_BYTES = 256 * 2 ** 20;

export class AimEngine {
  readonly config: AimConfig;
  readonly program: EngineProgram;
  private readonly rt: Runtime;
  /** AdamW updates applied (bias correction uses it); part of a checkpoint. With dynamic loss scaling, the GPU's count. */
  updates = 0;
  /** Whether the GPU holds a dynamic loss scale (set by the first step that asks for one). */
  private dynamicScaleStarted = false;
  private slot = 0;
  private readonly slotBusy: (Promise<unknown> | undefined)[] = Array.from({ length: READBACK_SLOTS }, () => undefined);
  private destroyed = false;
  /** Readers of the staging buffer run one at a time (a buffer can be mapped by one reader only). */
  private stagingQueue: Promise<unknown> = Promise.resolve();
  /** Where a data-parallel step stands (accumulateGradients, exchangeGradients, applyUpdate); idle between steps. */
  private phase: 'idle' | 'accumulated' | 'exchanging' | 'exchanged' = 'idle';
  /** Host copy of the gradients and the loss for the data-parallel exchange, allocated on first use. */
  private exchange: Float32Array | undefined;
  /** The gradScale of the gradients accumulated for the data-parallel step in progress. */
  private accumulatedScale = 1;

  private constructor(device: GPUDevice, program: EngineProgram) {
    this.config = program.config;
    this.program = program;
    this.rt = new Runtime(device, program.pb);
    const grid = program.config.imageSize / program.config.patchSize;
    this.rt.write(program.trunkPositions, sinCosPositionEmbedding2d(grid, grid, program.config.width));
    if (program.headPositions) this.rt.write(program.headPositions, sinCosPositionEmbedding2d(grid, grid, program.config.headWidth));
  }

  /** Builds the engine on `device`: every buffer, pipeline and bind group, once. Parameters start at zero. */
  static async create(device: GPUDevice, config: AimConfig, options: EngineOptions): Promise<AimEngine> {
    const program = describeEngine(config, { maxBindingBytes: device.limits.maxStorageBufferBindingSize, ...options });
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    const engine = new AimEngine(device, program);
    const oom = await device.popErrorScope();
    const invalid = await device.popErrorScope();
    if (oom || invalid) {
      await engine.destroy();
      const planned = `${(program.pb.totalBytes() / 2 ** 30).toFixed(2)} GiB planned (planMemory)`;
      const leaner =
        program.activations === 'recompute'
          ? ''
          : ` or activations 'recompute' (${(planMemory(config, options.batch, { ...options, activations: 'recompute', maxBindingBytes: device.limits.maxStorageBufferBindingSize }).totalBytes / 2 ** 30).toFixed(2)} GiB)`;
      const hint = oom ? `; a smaller micro-batch with more accumulation keeps the global batch${leaner}` : '';
      throw new Error(`engine: building ${config.name} at micro-batch ${options.batch} (${planned}) failed: ${(oom ?? invalid)!.message}${hint}`);
    }
    return engine;
  }

  /** What the engine asked of the GPU so far (dispatches, command buffers, host reads). */
  get counters() {
    return { ...this.rt.counters };
  }

  /** Bytes of every GPU buffer the engine holds. */
  get allocatedBytes(): number {
    return this.rt.allocatedBytes;
  }

  private check(): void {
    if (this.destroyed) throw new Error('engine: used after destroy()');
  }

  // ---- parameters and optimizer state (compute layout: linear weights [in, out]) ----

  private writeArena(chunks: readonly BufferDesc[], values: ReadonlyMap<string, Float32Array>, what: string): void {
    this.check();
    for (const [name, slot] of this.program.arena.slots) {
      const v = values.get(name);
      if (!v) throw new Error(`engine: ${what} has no tensor '${name}'`);
      if (v.length !== slot.size) throw new Error(`engine: ${what} '${name}' has ${v.length} values, expected ${slot.size}`);
      this.rt.write(chunks[slot.chunk], v, slot.offset * 4);
    }
  }

  /** Runs `fn` after every earlier user of the staging buffer has finished. */
  private withStaging<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.stagingQueue.then(fn);
    this.stagingQueue = run.catch(() => undefined);
    return run;
  }

  /** Reads every tensor of an arena through the staging buffer, piece by piece (a chunk can be gigabytes). */
  private readArena(chunks: readonly BufferDesc[]): Promise<Map<string, Float32Array>> {
    this.check();
    return this.withStaging(() => this.readArenaNow(chunks));
  }

  private async readArenaNow(chunks: readonly BufferDesc[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const slots = [...this.program.arena.slots.values()];
    for (const slot of slots) out.set(slot.spec.name, new Float32Array(slot.size));
    await this.readPiecesNow(chunks, (c, start, piece) => {
      for (const s of slots) {
        if (s.chunk !== c) continue;
        const from = Math.max(s.offset, start);
        const to = Math.min(s.offset + s.size, start + piece.length);
        if (from < to) out.get(s.spec.name)!.set(piece.subarray(from - start, to - start), from - s.offset);
      }
    });
    return out;
  }

  /** Copies every chunk of an arena to the host a staging buffer at a time; `visit` sees each piece once, in order. */
  private async readPiecesNow(chunks: readonly BufferDesc[], visit: (chunk: number, start: number, piece: Float32Array) => void): Promise<void> {
    for (let c = 0; c < chunks.length; c++) {
      await this.readRangeNow(chunks[c], 0, this.program.arena.chunks[c].floats, (start, piece) => visit(c, start, piece));
    }
  }

  /** Copies floats [first, first + count) of `src` to the host a staging buffer at a time, in order. */
  private async readRangeNow(src: BufferDesc, first: number, count: number, visit: (start: number, piece: Float32Array) => void): Promise<void> {
    const stagingFloats = this.program.staging.bytes / 4;
    for (let start = first; start < first + count; start += stagingFloats) {
      const n = Math.min(stagingFloats, first + count - start);
      this.rt.submit([{ kind: 'copy', src, srcOffset: start * 4, dst: this.program.staging, dstOffset: 0, bytes: n * 4 }]);
      visit(start, new Float32Array(await this.rt.read(this.program.staging, n * 4)));
    }
  }

  private arenaChunks(arena: ArenaName): readonly BufferDesc[] {
    if (arena !== 'parameters') this.requireHead();
    const { params, grads, moments1, moments2 } = this.program;
    return { parameters: params, gradients: grads, m: moments1, v: moments2 }[arena];
  }

  private arenaSlot(name: string) {
    const slot = this.program.arena.slots.get(name);
    if (!slot) throw new Error(`engine: ${this.config.name} has no parameter '${name}'`);
    return slot;
  }

  /** One tensor of an arena (compute layout), read through the staging buffer: a checkpoint streams these. */
  async readTensor(arena: ArenaName, name: string): Promise<Float32Array> {
    this.check();
    const chunks = this.arenaChunks(arena);
    const slot = this.arenaSlot(name);
    return this.withStaging(async () => {
      const out = new Float32Array(slot.size);
      await this.readRangeNow(chunks[slot.chunk], slot.offset, slot.size, (start, piece) => out.set(piece, start - slot.offset));
      return out;
    });
  }

  /**
   * Fills an arena tensor by tensor from `read` (compute layout), so a resume holds one tensor on the host at a time;
   * every UPLOAD_WAIT_BYTES it waits for the GPU to take what was written, which bounds the driver's upload copies.
   */
  async loadTensors(arena: 'parameters' | 'm' | 'v', read: (name: string) => Float32Array | Promise<Float32Array>): Promise<void> {
    this.check();
    const chunks = this.arenaChunks(arena);
    let pending = 0;
    for (const [name, slot] of this.program.arena.slots) {
      const v = await read(name);
      if (v.length !== slot.size) throw new Error(`engine: ${arena} '${name}' has ${v.length} values, expected ${slot.size}`);
      this.rt.write(chunks[slot.chunk], v, slot.offset * 4);
      pending += v.byteLength;
      if (pending >= UPLOAD_WAIT_BYTES) {
        await this.uploaded();
        pending = 0;
      }
    }
    await this.uploaded();
  }

  /** Resolves once the GPU has taken every buffer write so far (a submit after them, then its completion). */
  private async uploaded(): Promise<void> {
    this.rt.submit([]);
    await this.rt.device.queue.onSubmittedWorkDone();
  }

  setParameters(values: ReadonlyMap<string, Float32Array>): void {
    this.writeArena(this.program.params, values, 'parameters');
  }

  readParameters(): Promise<Map<string, Float32Array>> {
    return this.readArena(this.program.params);
  }

  /** Gradients of the last step (accumulated over its micro-batches, before clipping; times its gradScale). */
  readGradients(): Promise<Map<string, Float32Array>> {
    this.requireHead();
    return this.readArena(this.program.grads);
  }

  setMoments(m: ReadonlyMap<string, Float32Array>, v: ReadonlyMap<string, Float32Array>, updates: number): void {
    this.requireHead();
    if (!Number.isInteger(updates) || updates < 0) throw new Error(`engine: update count must be an integer >= 0, got ${updates}`);
    this.writeArena(this.program.moments1, m, 'AdamW m');
    this.writeArena(this.program.moments2, v, 'AdamW v');
    this.updates = updates;
    this.dynamicScaleStarted = false; // a dynamic scale starts again, from this update count
  }

  async readMoments(): Promise<{ m: Map<string, Float32Array>; v: Map<string, Float32Array>; updates: number }> {
    this.requireHead();
    return { m: await this.readArena(this.program.moments1), v: await this.readArena(this.program.moments2), updates: this.updates };
  }

  private requireHead(): void {
    if (!this.program.pretrainHead) throw new Error('engine: built without the pretraining head (pretrainHead: false)');
  }

  // ---- inputs ----

  /** Writes a batch; prefix lengths must lie in 1..maxPrefix (K - 1 for the loss, K for features). */
  private upload(patches: Float32Array, prefixLengths: Int32Array | undefined, maxPrefix: number): void {
    const { batch } = this.program;
    const k = numPatches(this.config);
    const pd = patchDim(this.config);
    const rows = patches.length / (k * pd);
    if (!Number.isInteger(rows) || rows < 1 || rows > batch) {
      throw new Error(`engine: patches must be [b, ${k}, ${pd}] with 1 <= b <= ${batch}, got ${patches.length} values`);
    }
    if (prefixLengths !== undefined) {
      if (prefixLengths.length !== rows) throw new Error(`engine: ${prefixLengths.length} prefix lengths for ${rows} samples`);
      prefixLengths.forEach((s, i) => {
        if (!Number.isInteger(s) || s < 1 || s > maxPrefix) {
          throw new Error(`engine: prefixLengths[${i}] = ${s} is outside 1..${maxPrefix}`);
        }
      });
    }
    // Padding samples: zero patches with prefix K, whose loss weight is zero at every position.
    const padded = rows === batch ? patches : new Float32Array(batch * k * pd);
    if (padded !== patches) padded.set(patches);
    const prefix = new Uint32Array(batch).fill(k);
    if (prefixLengths) prefix.set(prefixLengths);
    this.rt.write(this.program.patches, padded);
    this.rt.write(this.program.prefix, prefix);
  }

  private trunkOps(lastBlock: number): Op[] {
    return [...this.program.ops.embed, ...this.program.ops.blocks.slice(0, lastBlock + 1).flat()];
  }

  // ---- training ----

  /** Weighted target positions of one micro-batch: the loss averages over K - S positions per sample. */
  lossPositions(prefixLengths: Int32Array): number {
    const k = numPatches(this.config);
    return prefixLengths.reduce((n, s) => n + (k - s), 0);
  }

  /**
   * One optimiser step over `micro` (its micro-batches are accumulated, each weighted by its share of the step's
   * weighted target positions, as @aim/train does). Returns once the work is submitted; the statistics resolve when
   * the GPU has finished the step.
   */
  step(micro: readonly MicroBatch[], hyper: AdamWHyper): Promise<EngineStepStats> {
    this.requireIdle('step()');
    if (micro.length === 0) throw new Error('engine: a step needs at least one micro-batch');
    const total = micro.reduce((n, mb) => n + this.lossPositions(mb.prefixLengths), 0);
    const update = this.updates + 1;
    const base = this.updateValues(hyper, update);
    if (hyper.dynamicScale && !this.dynamicScaleStarted) {
      // The scale starts on the GPU, and the update count there continues the host's (a resumed run's).
      this.rt.write(this.program.stats, Float32Array.of(base.dynamicStart, 0, this.updates), STAT.lossScale * 4);
      this.dynamicScaleStarted = true;
    }
    this.submitMicroBatches(micro, { ...base, lossScale: 1 / total });
    // With dynamic scaling a skipped step applies nothing: the count comes back from the GPU with the statistics.
    if (!hyper.dynamicScale) this.updates = update;
    return this.finishUpdate(hyper);
  }

  /**
   * A step over one micro-batch, applied as step() applies it, with every dispatch timed on the GPU (the device needs
   * 'timestamp-query'): each dispatch with its nanoseconds, in order. For finding where a step's time goes (the
   * benchmark's profile): a pass per dispatch and a read per command buffer cost time of their own.
   */
  async profileStep(micro: MicroBatch, hyper: AdamWHyper): Promise<ProfiledDispatch[]> {
    this.requireIdle('profileStep()');
    if (hyper.dynamicScale) throw new Error('engine: profileStep() takes a fixed gradScale, not dynamicScale');
    const update = this.updates + 1;
    const values = { ...this.updateValues(hyper, update), lossScale: 1 / this.lossPositions(micro.prefixLengths) };
    const k = numPatches(this.config);
    this.upload(micro.patches, micro.prefixLengths, k - 1);
    this.rt.writeStep(values);
    const { startStep, afterTrunk, optimizer } = this.program.ops;
    const ops = [...startStep, ...this.trunkOps(this.config.depth - 1), ...afterTrunk, ...optimizer];
    const ns = await this.rt.profile(ops);
    this.updates = update;
    return ops.filter((op) => op.kind === 'dispatch').map((op, i) => ({ kernel: op.kernel.name, params: op.params, workgroups: op.workgroups, ns: ns[i] }));
  }

  // ---- a data-parallel step, in three parts ----
  //
  // Processes that share a step (MPI ranks) each compute the gradient of their micro-batches, sum the gradients, and
  // apply the same update. WebGPU has no memory shared between processes or devices, and MPI's collectives work on
  // host memory, so the exchange goes through the host: the gradient arena is copied to the host through the staging
  // buffer, summed by the caller's all-reduce, and written back. That costs the gradient bytes twice per step (GPU to
  // host, host to GPU) plus the all-reduce itself, and one host read per staging-sized piece; a single-process
  // step() does none of it. The loss sum travels with the gradients, so the update's non-finite gate sees the global
  // loss and the global gradient: every process halts at the same step.

  /**
   * Part 1: forward and backward of this process's micro-batches, accumulated into the gradient arena. Each is
   * weighted by its share of `stepPositions`, the weighted target positions of the WHOLE step (every process's
   * micro-batches; see lossPositions), so the sum over processes is what step() accumulates in one process.
   */
  accumulateGradients(micro: readonly MicroBatch[], stepPositions: number, gradScale = 1): void {
    this.requireIdle('accumulateGradients()');
    const scale = checkGradScale(gradScale);
    if (micro.length === 0) throw new Error('engine: a step needs at least one micro-batch');
    const mine = micro.reduce((n, mb) => n + this.lossPositions(mb.prefixLengths), 0);
    if (!Number.isInteger(stepPositions) || stepPositions < mine) {
      throw new Error(`engine: the step's loss positions (${stepPositions}) must be an integer >= this process's ${mine}`);
    }
    this.submitMicroBatches(micro, { ...NEUTRAL_STEP, lossScale: 1 / stepPositions, ...scale });
    this.accumulatedScale = gradScale;
    this.phase = 'accumulated';
  }

  /**
   * Part 2: the gradient arena and the loss sum go to the host as one Float32Array (gradient chunks in arena order,
   * then the loss), `allReduceSum` sums it in place over the processes, and the sums are written back.
   */
  async exchangeGradients(allReduceSum: (values: Float32Array) => unknown): Promise<void> {
    this.check();
    if (this.phase !== 'accumulated') throw new Error(`engine: exchangeGradients() needs accumulateGradients() first (state: ${this.phase})`);
    this.phase = 'exchanging';
    const { chunks } = this.program.arena;
    const bases: number[] = [];
    let floats = 0;
    for (const c of chunks) {
      bases.push(floats);
      floats += c.floats;
    }
    // Kept across steps: the exchange allocates nothing after the first step.
    if (this.exchange?.length !== floats + 1) this.exchange = new Float32Array(floats + 1);
    const flat = this.exchange;
    try {
      await this.withStaging(async () => {
        await this.readPiecesNow(this.program.grads, (c, start, piece) => flat.set(piece, bases[c] + start));
        const { stats, staging } = this.program;
        this.rt.submit([{ kind: 'copy', src: stats, srcOffset: STAT.loss * 4, dst: staging, dstOffset: 0, bytes: 4 }]);
        flat[floats] = new Float32Array(await this.rt.read(staging, 4))[0];
      });
      await allReduceSum(flat);
    } catch (err) {
      this.phase = 'idle'; // the step is lost; the next one starts from zeroed gradients
      throw err;
    }
    // Every process writes back the same sums, so the update below runs on the same bits everywhere.
    chunks.forEach((c, i) => this.rt.write(this.program.grads[i], flat.subarray(bases[i], bases[i] + c.floats)));
    this.rt.write(this.program.stats, flat.subarray(floats), STAT.loss * 4);
    this.phase = 'exchanged';
  }

  /** Part 3: norm, clip and the non-finite gate on the summed gradients, then AdamW; as the end of step(). */
  applyUpdate(hyper: AdamWHyper): Promise<EngineStepStats> {
    this.check();
    if (this.phase !== 'exchanged') throw new Error(`engine: applyUpdate() needs exchangeGradients() first (state: ${this.phase})`);
    if (hyper.dynamicScale) throw new Error('engine: applyUpdate() takes a fixed gradScale, not dynamicScale (data-parallel steps)');
    if ((hyper.gradScale ?? 1) !== this.accumulatedScale) {
      throw new Error(`engine: applyUpdate() with gradScale ${hyper.gradScale ?? 1}, but the gradients were accumulated with ${this.accumulatedScale}`);
    }
    const update = this.updates + 1;
    this.rt.writeStep({ ...this.updateValues(hyper, update), lossScale: 1 });
    this.updates = update;
    this.phase = 'idle';
    return this.finishUpdate(hyper);
  }

  private requireIdle(what: string): void {
    this.check();
    this.requireHead();
    if (this.phase !== 'idle') throw new Error(`engine: ${what} in the middle of a data-parallel step (state: ${this.phase})`);
  }

  /**
   * The per-step values of AdamW update number `update` (1-based: bias correction), and where a dynamic loss scale
   * starts.
   */
  private updateValues(hyper: AdamWHyper, update: number): Omit<StepValues, 'lossScale'> & { dynamicStart: number } {
    const dynamic = hyper.dynamicScale;
    if (dynamic && hyper.gradScale !== undefined) throw new Error('engine: give gradScale or dynamicScale, not both');
    const growthInterval = dynamic ? (dynamic.growthInterval ?? 2000) : 0;
    const dynamicStart = dynamic ? (dynamic.initial ?? 2 ** 16) : 0;
    if (dynamic && !(Number.isInteger(growthInterval) && growthInterval >= 1)) {
      throw new Error(`engine: dynamicScale.growthInterval must be an integer >= 1, got ${growthInterval}`);
    }
    if (dynamic) checkGradScale(dynamicStart);
    return {
      growthInterval,
      dynamicStart,
      lr: hyper.lr,
      bc1: 1 - hyper.beta1 ** update,
      bc2: 1 - hyper.beta2 ** update,
      beta1: hyper.beta1,
      oneMinusBeta1: 1 - hyper.beta1,
      beta2: hyper.beta2,
      oneMinusBeta2: 1 - hyper.beta2,
      eps: hyper.eps,
      decayFactor: hyper.weightDecay > 0 ? 1 - hyper.lr * hyper.weightDecay : 1,
      clip: Number.isFinite(hyper.clipNorm) ? hyper.clipNorm : 0,
      ...checkGradScale(hyper.gradScale ?? 1),
    };
  }

  /** One command buffer per micro-batch: the first zeroes the gradients and the step's statistics. */
  private submitMicroBatches(micro: readonly MicroBatch[], values: StepValues): void {
    const k = numPatches(this.config);
    const forward = this.trunkOps(this.config.depth - 1);
    micro.forEach((mb, i) => {
      this.upload(mb.patches, mb.prefixLengths, k - 1);
      this.rt.writeStep(values);
      this.rt.submit([...(i === 0 ? this.program.ops.startStep : []), ...forward, ...this.program.ops.afterTrunk]);
    });
  }

  /** The update's command buffer; its statistics come back through the promise. */
  private finishUpdate(hyper: AdamWHyper): Promise<EngineStepStats> {
    const dynamic = hyper.dynamicScale !== undefined;
    return this.finishWith(this.program.ops.optimizer, (s) => {
      // Promises resolve in submission order, so the newest count wins.
      if (dynamic) this.updates = s[STAT.updatesApplied];
      return {
        loss: s[STAT.loss],
        gradNorm: s[STAT.gradNorm],
        nonFinite: s[STAT.nonFinite] !== 0 || s[STAT.halted] !== 0,
        skipped: s[STAT.skipped] !== 0,
        lossScale: dynamic ? s[STAT.lossScale] : (hyper.gradScale ?? 1),
      };
    });
  }

  /** Submits `ops` plus a copy of the stats into the next readback slot; resolves with the slot's values. */
  private finishWith<T>(ops: readonly Op[], decode: (stats: Float32Array) => T): Promise<T> {
    const slot = this.slot;
    this.slot = (this.slot + 1) % READBACK_SLOTS;
    const dst = this.program.readbacks[slot];
    const previous = this.slotBusy[slot];
    const copy: Op = { kind: 'copy', src: this.program.stats, srcOffset: 0, dst, dstOffset: 0, bytes: STATS_FLOATS * 4 };
    const run = async (): Promise<T> => {
      await previous; // a slot is reused only once its last reader is done
      return decode(new Float32Array(await this.rt.read(dst, STATS_FLOATS * 4)));
    };
    if (previous === undefined) {
      this.rt.submit([...ops, copy]);
      const p = run();
      this.slotBusy[slot] = p.catch(() => undefined);
      return p;
    }
    // The slot is still being read: submit the work now, and the copy after the reader unmaps.
    this.rt.submit(ops);
    const p = previous.then(() => {
      this.rt.submit([copy]);
      return run();
    });
    this.slotBusy[slot] = p.catch(() => undefined);
    return p;
  }

  /** The loss of one batch (no update), with the given prefix lengths. */
  evalLoss(batch: MicroBatch): Promise<number> {
    this.check();
    this.requireHead();
    const count = this.lossPositions(batch.prefixLengths);
    this.upload(batch.patches, batch.prefixLengths, numPatches(this.config) - 1);
    this.rt.writeStep({ ...NEUTRAL_STEP, lossScale: 1 / count });
    return this.finishWith([...this.trunkOps(this.config.depth - 1), ...this.program.ops.evalLoss], (s) => s[STAT.evalLoss]);
  }

  // ---- features ----

  /**
   * Raw outputs (before the post-trunk norm) of the chosen blocks: one [b, K, D] array per block, in order. Calls may
   * overlap: each waits for the one before.
   */
  extractFeatures(patches: Float32Array, request: FeatureRequest): Promise<Float32Array[]> {
    this.check();
    return this.withStaging(() => this.extractFeaturesNow(patches, request));
  }

  private async extractFeaturesNow(patches: Float32Array, request: FeatureRequest): Promise<Float32Array[]> {
    const { blocks } = request;
    if (blocks.length === 0) throw new Error('engine: blocks must not be empty');
    for (const b of blocks) {
      if (!Number.isInteger(b) || b < 0 || b >= this.config.depth) throw new Error(`engine: block ${b} is outside 0..${this.config.depth - 1}`);
    }
    const k = numPatches(this.config);
    const rows = patches.length / (k * patchDim(this.config));
    this.upload(patches, request.prefixLengths, k);
    this.rt.submit(this.trunkOps(Math.max(...blocks)));
    const bytes = rows * k * this.config.width * 4;
    const out: Float32Array[] = [];
    for (const b of blocks) {
      this.rt.submit([{ kind: 'copy', src: this.program.blockInputs[b + 1], srcOffset: 0, dst: this.program.staging, dstOffset: 0, bytes }]);
      out.push(new Float32Array(await this.rt.read(this.program.staging, bytes)));
    }
    return out;
  }

  /** Waits for submitted work, then releases every GPU buffer (the device stays with its owner). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.slotBusy, this.stagingQueue]);
    await this.rt.device.queue.onSubmittedWorkDone();
    this.rt.destroy();
  }
}

/** The step-uniform values of loss scale `s`, after checking it is a positive finite number. */
function checkGradScale(s: number): { gradScale: number; gradUnscale: number } {
  if (!(s > 0 && Number.isFinite(s))) throw new Error(`engine: gradScale must be a positive finite number, got ${s}`);
  return { gradScale: s, gradUnscale: 1 / s };
}
