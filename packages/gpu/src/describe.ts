// AIM's training step and feature extraction described as buffers and dispatches, with no device: the engine
// materialises this once, and `planMemory` sums its buffers. One function per part of the model; each records the
// forward, or the backward that consumes the gradient of its output.
// References: AIM paper Sec. 3; apple/ml-aim aim-v1 (trunk); apple/ml-l3m (pretraining head); llm.c (structure).
// The schedule is written one dispatch per line (long lines on purpose): read top to bottom, it is the step.
import {
  type AimConfig,
  LAYER_NORM_EPS,
  aimParameterSpecs,
  numPatches,
  patchDim,
} from '@aim/model/spec';
import { type ArenaLayout, layoutArena } from './arena.js';
import type { GemmShape } from './gemm-rate.js';
import { type GemmTile, gemm, gemmTileKey } from './kernels/gemm.js';
import { geluForward } from './kernels/gelu.js';
import { layerNormBackward, layerNormForward, layerNormPartialRows } from './kernels/layernorm.js';
import { pixelLoss } from './kernels/loss.js';
import { STATS_FLOATS, STAT, SUMSQ_GROUPS, adamw, normClipGate, sumOfSquares } from './kernels/optimizer.js';
import { colsum, sumIntoSlot } from './kernels/reduce.js';
import { softmaxBackward, softmaxForward } from './kernels/softmax.js';
import { type BufferDesc, type Op, ProgramBuilder } from './program.js';

/**
 * What the backward pass keeps of each block's forward and what it computes again.
 * - 'recompute' (activation checkpointing at block boundaries): keeps each block's input and runs the block's forward
 *   again inside the backward; the least memory, one more forward pass of GEMMs.
 * - 'selective': keeps the GEMMs' outputs (qkv, attention context, residual, MLP pre-activation) and recomputes only
 *   what is cheap to compute and large to keep: both LayerNorms' outputs, the attention probabilities (the scores'
 *   batched GEMM and the softmax, B x H x K x K each) and the GELU. No dense GEMM runs twice.
 * - 'keep': keeps everything; the most memory, nothing computed twice.
 */
export type ActivationMode = 'recompute' | 'selective' | 'keep';
export const ACTIVATION_MODES: readonly ActivationMode[] = ['recompute', 'selective', 'keep'];

export interface EngineOptions {
  /** Micro-batch size: every buffer is sized for it (smaller batches are padded). */
  readonly batch: number;
  /** What the backward keeps and recomputes (default 'recompute'; see `ActivationMode`). */
  readonly activations?: ActivationMode;
  /** Build the pretraining head, loss and optimizer (default true); false: feature extraction only. */
  readonly pretrainHead?: boolean;
  /** Largest storage binding in bytes (the device's maxStorageBufferBindingSize; default 1 GiB). */
  readonly maxBindingBytes?: number;
  /** Tile of the large GEMMs (default GEMM_TILES.large); the device benchmark sweeps it. */
  readonly gemmTile?: GemmTile;
  /**
   * Tuned tiles of the step's unbatched GEMMs by `gemmTileKey` (the benchmark's per-shape sweep); the others, and
   * the attention GEMMs, pick as without it.
   */
  readonly gemmTiles?: ReadonlyMap<string, GemmTile>;
}

/** A trunk block's activations that 'selective' keeps per block. */
interface TrunkKept {
  st1: BufferDesc;
  qkv: BufferDesc;
  ctx: BufferDesc;
  h: BufferDesc;
  st2: BufferDesc;
  pre: BufferDesc;
}
/** A trunk block's activations that 'selective' recomputes (one shared copy unless everything is kept). */
interface TrunkCheap {
  ln1: BufferDesc;
  probs: BufferDesc;
  ln2: BufferDesc;
  act: BufferDesc;
}
type TrunkWorkspace = TrunkKept & TrunkCheap;

interface HeadKept {
  y: BufferDesc;
  st1: BufferDesc;
  st2: BufferDesc;
  pre: BufferDesc;
}
interface HeadCheap {
  ln2: BufferDesc;
  act: BufferDesc;
}
type HeadWorkspace = HeadKept & HeadCheap;

/**
 * Per-block copies of a workspace part: one per block when the backward keeps it, else one shared by every block
 * (the forward and the backward's recomputation write it just before it is read). Feature extraction shares all.
 */
function perBlock<T>(blocks: number, kept: boolean, make: (i: number) => T): (i: number) => T {
  const copies = Array.from({ length: kept ? blocks : 1 }, (_, i) => make(i));
  return (i) => copies[kept ? i : 0];
}

export interface EngineProgram {
  readonly config: AimConfig;
  readonly batch: number;
  readonly activations: ActivationMode;
  readonly pretrainHead: boolean;
  readonly pb: ProgramBuilder;
  readonly arena: ArenaLayout;
  readonly params: readonly BufferDesc[];
  readonly grads: readonly BufferDesc[];
  readonly moments1: readonly BufferDesc[];
  readonly moments2: readonly BufferDesc[];
  readonly patches: BufferDesc;
  readonly prefix: BufferDesc;
  readonly trunkPositions: BufferDesc;
  readonly headPositions?: BufferDesc;
  /** Block inputs; blockInputs[i + 1] is block i's raw output. */
  readonly blockInputs: readonly BufferDesc[];
  readonly stats: BufferDesc;
  readonly readbacks: readonly BufferDesc[];
  readonly staging: BufferDesc;
  /** Dispatches one trunk block costs a training micro-batch: forward, recomputation and backward together. */
  readonly dispatchesPerTrunkBlock: number;
  /** The keys of `EngineOptions.gemmTiles` some GEMM of this program runs on (a file tuned on another model may match none). */
  readonly tunedTileKeys: ReadonlySet<string>;
  /** Each tunable GEMM of the program (unbatched, so tiled by `gemmTileKey`) by its key, with its shape at this batch. */
  readonly gemmShapes: ReadonlyMap<string, GemmShape>;
  readonly ops: {
    readonly embed: readonly Op[];
    /** Forward of each trunk block. */
    readonly blocks: readonly (readonly Op[])[];
    /** Everything of one training micro-batch after the trunk's forward: head, loss, backward. */
    readonly afterTrunk: readonly Op[];
    /** Zeroes gradients and the per-step statistics (before the first micro-batch). */
    readonly startStep: readonly Op[];
    readonly optimizer: readonly Op[];
    /** Head forward, loss into the evaluation slot (after the trunk's forward). */
    readonly evalLoss: readonly Op[];
  };
}

/** Number of readback slots for per-step statistics (steps in flight before a slot is reused). */
export const READBACK_SLOTS = 4;

export function describeEngine(config: AimConfig, options: EngineOptions): EngineProgram {
  const batch = options.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`engine: batch must be a positive integer, got ${batch}`);
  const activations = options.activations ?? 'recompute';
  if (!ACTIVATION_MODES.includes(activations)) {
    throw new Error(`engine: activations must be one of ${ACTIVATION_MODES.join(', ')}, got '${activations}'`);
  }
  const withHead = options.pretrainHead ?? true;
  const maxBinding = options.maxBindingBytes ?? 2 ** 30;
  const tile = options.gemmTile;
  const K = numPatches(config);
  const P = patchDim(config);
  const D = config.width;
  const H = config.heads;
  const hd = D / H;
  const M = config.mlpDim;
  const W = config.headWidth;
  const Mh = config.headMlpDim;
  const N = batch * K;
  const eps = LAYER_NORM_EPS;
  const pb = new ProgramBuilder();
  const maxFloats = Math.floor(maxBinding / 4);
  const buf = (label: string, floats: number, role: Parameters<ProgramBuilder['buffer']>[2]): BufferDesc => {
    if (floats > maxFloats) {
      throw new Error(
        `engine: '${label}' needs ${(floats * 4) / 2 ** 20} MiB, over the ${maxBinding / 2 ** 20} MiB storage binding limit; ` +
          'use a smaller micro-batch (gradient accumulation keeps the global batch)',
      );
    }
    return pb.buffer(label, floats, role);
  };

  const arena = layoutArena(aimParameterSpecs(config, { pretrainHead: withHead }), maxFloats);
  const chunkBuffers = (what: string): BufferDesc[] => arena.chunks.map((c, i) => buf(`${what} ${i}`, c.floats, 'parameters'));
  const params = chunkBuffers('parameters');
  const grads = withHead ? chunkBuffers('gradients') : [];
  const moments1 = withHead ? chunkBuffers('adam m') : [];
  const moments2 = withHead ? chunkBuffers('adam v') : [];
  const slot = (name: string) => {
    const s = arena.slots.get(name);
    if (!s) throw new Error(`engine: no parameter '${name}'`);
    return s;
  };
  const weight = (name: string, ld: number) => ({ buf: params[slot(name).chunk], offset: slot(name).offset, ld });
  const grad = (name: string, ld: number) => ({ buf: grads[slot(name).chunk], offset: slot(name).offset, ld });
  const norm = (prefix: string) => ({ weights: params[slot(`${prefix}.weight`).chunk], offW: slot(`${prefix}.weight`).offset });
  const bias = (name: string) => ({ buf: params[slot(name).chunk], offset: slot(name).offset });
  const tunedTileKeys = new Set<string>();
  const gemmShapes = new Map<string, GemmShape>();
  const tuned = (call: Parameters<typeof gemm>[1]) => {
    if (call.batch) return undefined;
    const key = gemmTileKey(call);
    if (!gemmShapes.has(key)) gemmShapes.set(key, { label: key, m: call.m, n: call.n, k: call.k, transA: call.transA, transB: call.transB });
    const t = options.gemmTiles?.get(key);
    if (t) tunedTileKeys.add(key);
    return t;
  };
  const gm = (call: Parameters<typeof gemm>[1]) => gemm(pb, { ...call, tile: call.tile ?? tuned(call) }, tile);

  const patches = buf('patches', N * P, 'io');
  const prefix = buf('prefix lengths', batch, 'io');
  const trunkPositions = buf('trunk positions', K * D, 'io');
  const headPositions = withHead ? buf('head positions', K * W, 'io') : undefined;
  const stats = buf('stats', STATS_FLOATS, 'scratch');
  const readbacks = Array.from({ length: READBACK_SLOTS }, (_, i) => buf(`stats readback ${i}`, STATS_FLOATS, 'readback'));
  const staging = buf('staging', Math.max(N * D, Math.min(1 << 22, Math.max(...arena.chunks.map((c) => c.floats)))), 'readback');

  // Activations kept across the step.
  const embedded = buf('patch embedding', N * D, 'activations');
  const embedStats = buf('patch norm stats', 2 * N, 'activations');
  const blockInputs = Array.from({ length: config.depth + 1 }, (_, i) => buf(`block input ${i}`, N * D, 'activations'));
  const keepGemmOutputs = withHead && activations !== 'recompute';
  const keepAll = withHead && activations === 'keep';
  const trunkKept = perBlock(config.depth, keepGemmOutputs, (i): TrunkKept => ({
    st1: buf(`trunk ${i} ln1 stats`, 2 * N, 'activations'),
    qkv: buf(`trunk ${i} qkv`, N * 3 * D, 'activations'),
    ctx: buf(`trunk ${i} context`, N * D, 'activations'),
    h: buf(`trunk ${i} residual`, N * D, 'activations'),
    st2: buf(`trunk ${i} ln2 stats`, 2 * N, 'activations'),
    pre: buf(`trunk ${i} mlp pre-activation`, N * M, 'activations'),
  }));
  const trunkCheap = perBlock(config.depth, keepAll, (i): TrunkCheap => ({
    ln1: buf(`trunk ${i} ln1`, N * D, 'activations'),
    probs: buf(`trunk ${i} attention`, batch * H * K * K, 'activations'),
    ln2: buf(`trunk ${i} ln2`, N * D, 'activations'),
    act: buf(`trunk ${i} mlp activation`, N * M, 'activations'),
  }));
  const wsOf = (i: number): TrunkWorkspace => ({ ...trunkKept(i), ...trunkCheap(i) });

  // ---- forward: patch embedding + LayerNorm + positions, then the blocks ----
  const embed: Op[] = [
    gm({ m: N, n: D, k: P, a: { buf: patches, ld: P }, b: weight('preprocessor.patchifier.proj.weight', D), c: { buf: embedded, ld: D }, biasRef: bias('preprocessor.patchifier.proj.bias') }),
    layerNormForward(pb, { rows: N, width: D, eps, mode: 'addPos', x: embedded, ...norm('preprocessor.patchifier.norm'), out: blockInputs[0], stats: embedStats, pos: trunkPositions, posRows: K }),
  ];
  const heads = { outer: batch, inner: H };
  const qkvHead = (which: 0 | 1 | 2) => ({ offset: which * D, ld: 3 * D, sOuter: K * 3 * D, sInner: hd });
  const tileOf = { ld: K, sOuter: H * K * K, sInner: K * K };
  const ctxHead = { ld: D, sOuter: K * D, sInner: hd };
  /** Block i's forward, one dispatch per entry, in order. */
  const blockForward = (i: number) => {
    const b = `trunk.blocks.${i}`;
    const ws = wsOf(i);
    return {
      ln1: layerNormForward(pb, { rows: N, width: D, eps, mode: 'plain', x: blockInputs[i], ...norm(`${b}.norm_1`), out: ws.ln1, stats: ws.st1 }),
      qkv: gm({ m: N, n: 3 * D, k: D, a: { buf: ws.ln1, ld: D }, b: weight(`${b}.attn.qkv.weight`, 3 * D), c: { buf: ws.qkv, ld: 3 * D } }),
      scores: gm({ m: K, n: K, k: hd, transB: true, alpha: 1 / Math.sqrt(hd), a: { buf: ws.qkv, ...qkvHead(0) }, b: { buf: ws.qkv, ...qkvHead(1) }, c: { buf: ws.probs, ...tileOf }, batch: heads }),
      softmax: softmaxForward(pb, { batch, heads: H, k: K, scores: ws.probs, prefix }),
      context: gm({ m: K, n: hd, k: K, a: { buf: ws.probs, ...tileOf }, b: { buf: ws.qkv, ...qkvHead(2) }, c: { buf: ws.ctx, ...ctxHead }, batch: heads }),
      proj: gm({ m: N, n: D, k: D, a: { buf: ws.ctx, ld: D }, b: weight(`${b}.attn.proj.weight`, D), c: { buf: ws.h, ld: D }, aux: 'add', auxRef: { buf: blockInputs[i], ld: D } }),
      ln2: layerNormForward(pb, { rows: N, width: D, eps, mode: 'plain', x: ws.h, ...norm(`${b}.norm_2`), out: ws.ln2, stats: ws.st2 }),
      fc1: gm({ m: N, n: M, k: D, a: { buf: ws.ln2, ld: D }, b: weight(`${b}.mlp.fc1.weight`, M), c: { buf: ws.act, ld: M }, aux: 'storePre', auxRef: { buf: ws.pre, ld: M }, gelu: true }),
      fc2: gm({ m: N, n: D, k: M, a: { buf: ws.act, ld: M }, b: weight(`${b}.mlp.fc2.weight`, D), c: { buf: blockInputs[i + 1], ld: D }, aux: 'add', auxRef: { buf: ws.h, ld: D } }),
    };
  };
  const forwards = Array.from({ length: config.depth }, (_, i) => blockForward(i));
  const blocks = forwards.map((f): Op[] => Object.values(f));
  /** What block i's backward runs first to have the activations its mode did not keep. */
  const trunkRecompute = (i: number): Op[] => {
    const f = forwards[i];
    if (activations === 'recompute') return [f.ln1, f.qkv, f.scores, f.softmax, f.context, f.proj, f.ln2, f.fc1];
    if (activations === 'selective') return [f.ln1, f.scores, f.softmax, f.ln2, geluForward(pb, { n: N * M, x: wsOf(i).pre, out: wsOf(i).act })];
    return [];
  };

  const emptyOps = { afterTrunk: [], startStep: [], optimizer: [], evalLoss: [] };
  if (!withHead) {
    const dispatchesPerTrunkBlock = blocks[0].length;
    return { config, batch, activations, pretrainHead: false, pb, arena, params, grads, moments1, moments2, patches, prefix, trunkPositions, blockInputs, stats, readbacks, staging, dispatchesPerTrunkBlock, tunedTileKeys, gemmShapes, ops: { embed, blocks, ...emptyOps } };
  }

  // ---- the pretraining head and the loss ----
  const post = buf('post-trunk norm', N * D, 'activations');
  const postStats = buf('post-trunk norm stats', 2 * N, 'activations');
  const headInputs = Array.from({ length: config.headDepth + 1 }, (_, j) => buf(`head block input ${j}`, N * W, 'activations'));
  const headKept = perBlock(config.headDepth, keepGemmOutputs, (j): HeadKept => ({
    y: buf(`head ${j} x + ln1(x)`, N * W, 'activations'),
    st1: buf(`head ${j} ln1 stats`, 2 * N, 'activations'),
    st2: buf(`head ${j} ln2 stats`, 2 * N, 'activations'),
    pre: buf(`head ${j} mlp pre-activation`, N * Mh, 'activations'),
  }));
  const headCheap = perBlock(config.headDepth, keepAll, (j): HeadCheap => ({
    ln2: buf(`head ${j} ln2`, N * W, 'activations'),
    act: buf(`head ${j} mlp activation`, N * Mh, 'activations'),
  }));
  const hwsOf = (j: number): HeadWorkspace => ({ ...headKept(j), ...headCheap(j) });
  const decoded = buf('decoder norm', N * W, 'activations');
  const decodedStats = buf('decoder norm stats', 2 * N, 'activations');
  const pred = buf('predictions', N * P, 'activations');
  const lossRows = buf('loss rows', N, 'scratch');
  // Backward scratch.
  const gTrunk = buf('trunk gradient', N * D, 'scratch');
  const gHead = buf('head gradient', N * W, 'scratch');
  const dqkv = buf('qkv gradient', N * 3 * D, 'scratch');
  const dProbs = buf('attention gradient', batch * H * K * K, 'scratch');
  const lnPartials = buf('norm gradient partials', layerNormPartialRows(N) * 2 * Math.max(D, W), 'scratch');
  const normPartials = buf('gradient norm partials', SUMSQ_GROUPS * arena.chunks.length, 'scratch');

  const h = 'pretrain_head.';
  const headBlock = (j: number) => {
    const p = `${h}decoder_blocks.${j}`;
    const ws = hwsOf(j);
    return {
      ln1: layerNormForward(pb, { rows: N, width: W, eps, mode: 'residual', x: headInputs[j], ...norm(`${p}.norm_1`), out: ws.y, stats: ws.st1 }),
      ln2: layerNormForward(pb, { rows: N, width: W, eps, mode: 'plain', x: ws.y, ...norm(`${p}.norm_2`), out: ws.ln2, stats: ws.st2 }),
      fc1: gm({ m: N, n: Mh, k: W, a: { buf: ws.ln2, ld: W }, b: weight(`${p}.mlp.fc1.weight`, Mh), c: { buf: ws.act, ld: Mh }, aux: 'storePre', auxRef: { buf: ws.pre, ld: Mh }, gelu: true }),
      fc2: gm({ m: N, n: W, k: Mh, a: { buf: ws.act, ld: Mh }, b: weight(`${p}.mlp.fc2.weight`, W), c: { buf: headInputs[j + 1], ld: W }, aux: 'add', auxRef: { buf: ws.y, ld: W } }),
    };
  };
  const headForward: Op[] = [
    layerNormForward(pb, { rows: N, width: D, eps, mode: 'plain', x: blockInputs[config.depth], ...norm('trunk.post_trunk_norm'), out: post, stats: postStats }),
    gm({ m: N, n: W, k: D, a: { buf: post, ld: D }, b: weight(`${h}decoder_projection.weight`, W), c: { buf: headInputs[0], ld: W }, biasRef: bias(`${h}decoder_projection.bias`), aux: 'add', auxRef: { buf: headPositions!, ld: W, rows: K } }),
  ];
  const headBlocks = Array.from({ length: config.headDepth }, (_, j) => headBlock(j));
  const headRecompute = (j: number): Op[] => {
    const f = headBlocks[j];
    if (activations === 'recompute') return [f.ln1, f.ln2, f.fc1];
    if (activations === 'selective') return [f.ln2, geluForward(pb, { n: N * Mh, x: hwsOf(j).pre, out: hwsOf(j).act })];
    return [];
  };
  headForward.push(
    ...headBlocks.flatMap((f) => Object.values(f)),
    layerNormForward(pb, { rows: N, width: W, eps, mode: 'plain', x: headInputs[config.headDepth], ...norm(`${h}decoder_norm`), out: decoded, stats: decodedStats }),
    gm({ m: N, n: P, k: W, a: { buf: decoded, ld: W }, b: weight(`${h}decoder_pred.weight`, P), c: { buf: pred, ld: P }, biasRef: bias(`${h}decoder_pred.bias`) }),
  );
  const lossOps = (statSlot: number): Op[] => [
    pixelLoss(pb, { batch, k: K, patchDim: P, pred, patches, prefix, lossRows, stats }),
    sumIntoSlot(pb, { n: N, src: lossRows, stats, slot: statSlot }),
  ];
  const normGrad = (name: string, width: number): Op =>
    colsum(pb, { rows: layerNormPartialRows(N), cols: 2 * width, src: lnPartials, dst: grads[slot(`${name}.weight`).chunk], offDst: slot(`${name}.weight`).offset });
  const biasGrad = (name: string, rows: number, cols: number, src: BufferDesc): Op =>
    colsum(pb, { rows, cols, src, dst: grads[slot(name).chunk], offDst: slot(name).offset });

  // ---- backward: head (from d loss / d predictions, left in `pred` by the loss kernel) ----
  const backward: Op[] = [
    gm({ m: W, n: P, k: N, transA: true, a: { buf: decoded, ld: W }, b: { buf: pred, ld: P }, c: grad(`${h}decoder_pred.weight`, P), accumulate: true }),
    biasGrad(`${h}decoder_pred.bias`, N, P, pred),
    gm({ m: N, n: W, k: P, transB: true, a: { buf: pred, ld: P }, b: weight(`${h}decoder_pred.weight`, P), c: { buf: decoded, ld: W } }),
    layerNormBackward(pb, { rows: N, width: W, mode: 'set', x: headInputs[config.headDepth], dy: decoded, ...norm(`${h}decoder_norm`), dx: gHead, stats: decodedStats, partials: lnPartials }),
    normGrad(`${h}decoder_norm`, W),
  ];
  for (let j = config.headDepth - 1; j >= 0; j--) {
    const p = `${h}decoder_blocks.${j}`;
    const ws = hwsOf(j);
    backward.push(...headRecompute(j));
    backward.push(
      gm({ m: Mh, n: W, k: N, transA: true, a: { buf: ws.act, ld: Mh }, b: { buf: gHead, ld: W }, c: grad(`${p}.mlp.fc2.weight`, W), accumulate: true }),
      gm({ m: N, n: Mh, k: W, transB: true, a: { buf: gHead, ld: W }, b: weight(`${p}.mlp.fc2.weight`, W), c: { buf: ws.act, ld: Mh }, aux: 'geluGrad', auxRef: { buf: ws.pre, ld: Mh } }),
      gm({ m: W, n: Mh, k: N, transA: true, a: { buf: ws.ln2, ld: W }, b: { buf: ws.act, ld: Mh }, c: grad(`${p}.mlp.fc1.weight`, Mh), accumulate: true }),
      gm({ m: N, n: W, k: Mh, transB: true, a: { buf: ws.act, ld: Mh }, b: weight(`${p}.mlp.fc1.weight`, Mh), c: { buf: ws.ln2, ld: W } }),
      layerNormBackward(pb, { rows: N, width: W, mode: 'accumulate', x: ws.y, dy: ws.ln2, ...norm(`${p}.norm_2`), dx: gHead, stats: ws.st2, partials: lnPartials }),
      normGrad(`${p}.norm_2`, W),
      layerNormBackward(pb, { rows: N, width: W, mode: 'dyIsOut', x: headInputs[j], ...norm(`${p}.norm_1`), dx: gHead, stats: ws.st1, partials: lnPartials }),
      normGrad(`${p}.norm_1`, W),
    );
  }
  backward.push(
    gm({ m: D, n: W, k: N, transA: true, a: { buf: post, ld: D }, b: { buf: gHead, ld: W }, c: grad(`${h}decoder_projection.weight`, W), accumulate: true }),
    biasGrad(`${h}decoder_projection.bias`, N, W, gHead),
    gm({ m: N, n: D, k: W, transB: true, a: { buf: gHead, ld: W }, b: weight(`${h}decoder_projection.weight`, W), c: { buf: post, ld: D } }),
    layerNormBackward(pb, { rows: N, width: D, mode: 'set', x: blockInputs[config.depth], dy: post, ...norm('trunk.post_trunk_norm'), dx: gTrunk, stats: postStats, partials: lnPartials }),
    normGrad('trunk.post_trunk_norm', D),
  );

  // ---- backward: trunk blocks, in reverse ----
  const beforeTrunkBackward = backward.length;
  for (let i = config.depth - 1; i >= 0; i--) {
    const b = `trunk.blocks.${i}`;
    const ws = wsOf(i);
    backward.push(...trunkRecompute(i));
    backward.push(
      gm({ m: M, n: D, k: N, transA: true, a: { buf: ws.act, ld: M }, b: { buf: gTrunk, ld: D }, c: grad(`${b}.mlp.fc2.weight`, D), accumulate: true }),
      gm({ m: N, n: M, k: D, transB: true, a: { buf: gTrunk, ld: D }, b: weight(`${b}.mlp.fc2.weight`, D), c: { buf: ws.act, ld: M }, aux: 'geluGrad', auxRef: { buf: ws.pre, ld: M } }),
      gm({ m: D, n: M, k: N, transA: true, a: { buf: ws.ln2, ld: D }, b: { buf: ws.act, ld: M }, c: grad(`${b}.mlp.fc1.weight`, M), accumulate: true }),
      gm({ m: N, n: D, k: M, transB: true, a: { buf: ws.act, ld: M }, b: weight(`${b}.mlp.fc1.weight`, M), c: { buf: ws.ln2, ld: D } }),
      layerNormBackward(pb, { rows: N, width: D, mode: 'accumulate', x: ws.h, dy: ws.ln2, ...norm(`${b}.norm_2`), dx: gTrunk, stats: ws.st2, partials: lnPartials }),
      normGrad(`${b}.norm_2`, D),
      gm({ m: D, n: D, k: N, transA: true, a: { buf: ws.ctx, ld: D }, b: { buf: gTrunk, ld: D }, c: grad(`${b}.attn.proj.weight`, D), accumulate: true }),
      gm({ m: N, n: D, k: D, transB: true, a: { buf: gTrunk, ld: D }, b: weight(`${b}.attn.proj.weight`, D), c: { buf: ws.ctx, ld: D } }),
      // Attention: ctx now holds d context. dP = dctx V^T; dV = P^T dctx; dS = softmax'(dP) * scale; dQ = dS K; dK = dS^T Q.
      gm({ m: K, n: K, k: hd, transB: true, a: { buf: ws.ctx, ...ctxHead }, b: { buf: ws.qkv, ...qkvHead(2) }, c: { buf: dProbs, ...tileOf }, batch: heads }),
      gm({ m: K, n: hd, k: K, transA: true, a: { buf: ws.probs, ...tileOf }, b: { buf: ws.ctx, ...ctxHead }, c: { buf: dqkv, ...qkvHead(2) }, batch: heads }),
      softmaxBackward(pb, { rows: batch * H * K, k: K, scale: 1 / Math.sqrt(hd), probs: ws.probs, dProbs }),
      gm({ m: K, n: hd, k: K, a: { buf: dProbs, ...tileOf }, b: { buf: ws.qkv, ...qkvHead(1) }, c: { buf: dqkv, ...qkvHead(0) }, batch: heads }),
      gm({ m: K, n: hd, k: K, transA: true, a: { buf: dProbs, ...tileOf }, b: { buf: ws.qkv, ...qkvHead(0) }, c: { buf: dqkv, ...qkvHead(1) }, batch: heads }),
      gm({ m: D, n: 3 * D, k: N, transA: true, a: { buf: ws.ln1, ld: D }, b: { buf: dqkv, ld: 3 * D }, c: grad(`${b}.attn.qkv.weight`, 3 * D), accumulate: true }),
      gm({ m: N, n: D, k: 3 * D, transB: true, a: { buf: dqkv, ld: 3 * D }, b: weight(`${b}.attn.qkv.weight`, 3 * D), c: { buf: ws.ln1, ld: D } }),
      layerNormBackward(pb, { rows: N, width: D, mode: 'accumulate', x: blockInputs[i], dy: ws.ln1, ...norm(`${b}.norm_1`), dx: gTrunk, stats: ws.st1, partials: lnPartials }),
      normGrad(`${b}.norm_1`, D),
    );
  }

  const dispatchesPerTrunkBlock = blocks[0].length + (backward.length - beforeTrunkBackward) / config.depth;

  // ---- backward: patch embedding (block input 0 is free now and takes d embedding) ----
  const pre = 'preprocessor.patchifier';
  backward.push(
    layerNormBackward(pb, { rows: N, width: D, mode: 'set', x: embedded, dy: gTrunk, ...norm(`${pre}.norm`), dx: blockInputs[0], stats: embedStats, partials: lnPartials }),
    normGrad(`${pre}.norm`, D),
    gm({ m: P, n: D, k: N, transA: true, a: { buf: patches, ld: P }, b: { buf: blockInputs[0], ld: D }, c: grad(`${pre}.proj.weight`, D), accumulate: true }),
    biasGrad(`${pre}.proj.bias`, N, D, blockInputs[0]),
  );

  const optimizer: Op[] = [];
  arena.chunks.forEach((c, i) => optimizer.push(sumOfSquares(pb, { n: c.floats, grads: grads[i], partials: normPartials, offPart: i * SUMSQ_GROUPS })));
  optimizer.push(normClipGate(pb, { parts: arena.chunks.length * SUMSQ_GROUPS, partials: normPartials, stats }));
  arena.chunks.forEach((c, i) =>
    optimizer.push(adamw(pb, { n: c.floats, decayEnd: c.decayEnd, params: params[i], grads: grads[i], m: moments1[i], v: moments2[i], stats })),
  );

  const startStep: Op[] = [
    ...grads.map((g): Op => ({ kind: 'clear', buffer: g })),
    { kind: 'clear', buffer: stats, offset: 0, bytes: 4 * STAT.halted },
  ];
  const evalLoss: Op[] = [
    { kind: 'clear', buffer: stats, offset: 4 * STAT.evalLoss, bytes: 4 },
    ...headForward,
    ...lossOps(STAT.evalLoss),
  ];
  return {
    config,
    batch,
    activations,
    pretrainHead: true,
    pb,
    arena,
    params,
    grads,
    moments1,
    moments2,
    patches,
    prefix,
    trunkPositions,
    headPositions,
    blockInputs,
    stats,
    readbacks,
    staging,
    dispatchesPerTrunkBlock,
    tunedTileKeys,
    gemmShapes,
    ops: { embed, blocks, afterTrunk: [...headForward, ...lossOps(STAT.loss), ...backward], startStep, optimizer, evalLoss },
  };
}

export interface MemoryPlan {
  /** Every byte the engine allocates on the device. */
  readonly totalBytes: number;
  readonly byRole: Readonly<Record<string, number>>;
  readonly parameterCount: number;
}

/** The bytes the engine will allocate for `config` at micro-batch `batch`, computed without a device. */
export function planMemory(config: AimConfig, batch: number, options: Omit<EngineOptions, 'batch'> = {}): MemoryPlan {
  const program = describeEngine(config, { ...options, batch });
  const byRole: Record<string, number> = {};
  for (const b of program.pb.buffers) byRole[b.role] = (byRole[b.role] ?? 0) + b.bytes;
  return { totalBytes: program.pb.totalBytes(), byRole, parameterCount: program.arena.parameterCount };
}
