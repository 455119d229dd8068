// The AIM model: preprocessor -> pre-norm ViT trunk (prefix-causal or bidirectional) -> pretraining MLP head.
// References: AIM paper (arXiv 2401.08541) Sec. 3; apple/ml-aim aim-v1 torch/models.py and layers.py;
// apple/ml-l3m configs/aimv1 and model/heads/simple_decoder.py (pretraining head).
import * as tf from '@tensorflow/tfjs-core';
import { type AimConfig, type AimConfigInput, type AimConfigOverrides, LAYER_NORM_EPS, numPatches, patchDim, resolveAimConfig } from './config.js';
import { normalizedPixelLoss, patchify } from './loss.js';
import { PRETRAIN_HEAD_PREFIX, type ParameterSink, type StateSpec, describeAim } from './param-specs.js';
import { layerNorm, linear, mlp, prefixCausalMask, recomputeInBackward, selfAttention } from './ops.js';
import { type NamedParameter, ParameterSet } from './parameters.js';
import { sinCosPositionEmbedding2d } from './positions.js';
import { Mulberry32 } from '@aim/base/random';
import { xavierUniform } from './init.js';

export interface CreateAimOptions {
  /** Initialisation seed (default 0): equal seeds give identical weights. */
  seed?: number;
  /** Build the pretraining head (default true). Feature extraction from released trunks does not need it. */
  pretrainHead?: boolean;
  /**
   * Activation checkpointing (default false): keep only each block's input for the backward pass and recompute the
   * block there. Cuts a training step's peak tensor memory for about one extra forward pass of compute.
   */
  recomputeBlocks?: boolean;
}

export interface FeatureOptions {
  /** 0-based block indices whose raw outputs (before the post-trunk norm) to return, in this order. */
  blocks: readonly number[];
  /** Per-sample prefix lengths for prefix-causal attention; omitted = full bidirectional attention. */
  prefixLengths?: Int32Array;
}

const TRUNK_PREFIXES = ['preprocessor.', 'trunk.'];
/** A trunk block's parameters, in the order `trunkBlock` takes them. */
const TRUNK_BLOCK_WEIGHTS = [
  'norm_1.weight',
  'norm_1.bias',
  'attn.qkv.weight',
  'attn.proj.weight',
  'norm_2.weight',
  'norm_2.bias',
  'mlp.fc1.weight',
  'mlp.fc2.weight',
] as const;

/** An AIM model whose weights are tf.Variables; every method is tidy (returns only the tensors it documents). */
export class AimModel {
  readonly config: AimConfig;
  readonly hasPretrainHead: boolean;
  readonly recomputeBlocks: boolean;
  private readonly params = new ParameterSet();
  private readonly trunkPositions: tf.Tensor2D; // [K, D]
  private readonly headPositions: tf.Tensor2D | null; // [K, headWidth]
  private disposed = false;

  constructor(config: AimConfig, options: CreateAimOptions = {}) {
    if (typeof (config as unknown) === 'string') {
      // TypeScript refuses this; a JavaScript caller would otherwise meet a shape error deep in the initialisation.
      throw new TypeError(`new AimModel('${config}'): pass a resolved config (createAim('${config}') builds the model from a registry name)`);
    }
    this.config = config;
    this.hasPretrainHead = options.pretrainHead ?? true;
    this.recomputeBlocks = options.recomputeBlocks ?? false;
    const rng = new Mulberry32(options.seed ?? 0);
    const grid = config.imageSize / config.patchSize;
    this.trunkPositions = tf.tensor2d(sinCosPositionEmbedding2d(grid, grid, config.width), [grid * grid, config.width]);
    this.headPositions = this.hasPretrainHead ? tf.tensor2d(sinCosPositionEmbedding2d(grid, grid, config.headWidth), [grid * grid, config.headWidth]) : null;
    describeAim(config, this.hasPretrainHead, this.allocate(rng));
  }

  private allocate(rng: Mulberry32): ParameterSink {
    return {
      linear: (name, inDim, outDim, bias) => {
        this.params.add(`${name}.weight`, xavierUniform(rng, inDim * outDim, inDim, outDim), [inDim, outDim], {
          decay: true,
          layout: 'linear',
        });
        if (bias) this.params.add(`${name}.bias`, new Float32Array(outDim), [outDim], { decay: false });
      },
      norm: (name, dim) => {
        this.params.add(`${name}.weight`, new Float32Array(dim).fill(1), [dim], { decay: false });
        this.params.add(`${name}.bias`, new Float32Array(dim), [dim], { decay: false });
      },
      patchEmbed: (name, pd, d) => {
        // The conv kernel is initialised like a Linear over the flattened patch (MAE / ml-aim): fans (3p^2, D).
        this.params.add(`${name}.weight`, xavierUniform(rng, pd * d, pd, d), [pd, d], {
          decay: true,
          layout: 'patchEmbed',
        });
        this.params.add(`${name}.bias`, new Float32Array(d), [d], { decay: false });
      },
    };
  }

  private v1(name: string): tf.Tensor1D {
    return this.params.get(name) as tf.Variable<tf.Rank.R1>;
  }

  private v2(name: string): tf.Tensor2D {
    return this.params.get(name) as tf.Variable<tf.Rank.R2>;
  }

  private norm(x: tf.Tensor, name: string): tf.Tensor {
    return layerNorm(x, this.v1(`${name}.weight`), this.v1(`${name}.bias`), LAYER_NORM_EPS);
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('AimModel has been disposed');
  }

  private checkPatches(patches: tf.Tensor): asserts patches is tf.Tensor3D {
    const k = numPatches(this.config);
    const pd = patchDim(this.config);
    if (patches.rank !== 3 || patches.shape[1] !== k || patches.shape[2] !== pd) {
      throw new Error(`patches must be [B, ${k}, ${pd}] for ${this.config.name}, got [${patches.shape}]`);
    }
    if (patches.dtype !== 'float32') throw new Error(`patches must be float32, got ${patches.dtype}`);
  }

  private checkPrefixLengths(prefixLengths: Int32Array, batch: number): void {
    if (!(prefixLengths instanceof Int32Array) || prefixLengths.length !== batch) {
      throw new Error(`prefixLengths must be an Int32Array of length ${batch} (the batch size)`);
    }
  }

  /** Images [B, 3, H, W] (already pixel-normalised) -> patches [B, K, p*p*3] in MAE layout. */
  patchify(images: tf.Tensor4D): tf.Tensor3D {
    const { imageSize } = this.config;
    if (images.rank !== 4 || images.shape[2] !== imageSize || images.shape[3] !== imageSize) {
      throw new Error(`images must be [B, 3, ${imageSize}, ${imageSize}] for ${this.config.name}, got [${images.shape}]`);
    }
    return patchify(images, this.config.patchSize);
  }

  /** Patch embedding + LayerNorm + sin-cos positions: patches [B, K, P] -> tokens [B, K, D]. */
  embed(patches: tf.Tensor3D): tf.Tensor3D {
    this.checkAlive();
    this.checkPatches(patches);
    return tf.tidy(() => {
      const pre = 'preprocessor.patchifier';
      const x = linear(patches, this.v2(`${pre}.proj.weight`), this.v1(`${pre}.proj.bias`)); // [B, K, D]
      return tf.add(this.norm(x, `${pre}.norm`), this.trunkPositions) as tf.Tensor3D;
    });
  }

  /** One trunk block on explicit tensors: x [B, K, D], weights in TRUNK_BLOCK_WEIGHTS order, additive mask or null. */
  private trunkBlock(x: tf.Tensor, w: tf.Tensor[], mask: tf.Tensor | null): tf.Tensor3D {
    const [n1w, n1b, qkv, proj, n2w, n2b, fc1, fc2] = w;
    const attn = selfAttention(
      layerNorm(x, n1w as tf.Tensor1D, n1b as tf.Tensor1D, LAYER_NORM_EPS) as tf.Tensor3D,
      { qkv: qkv as tf.Tensor2D, proj: proj as tf.Tensor2D },
      this.config.heads,
      mask as tf.Tensor4D | null,
    );
    const h = tf.add(x, attn);
    const normed = layerNorm(h, n2w as tf.Tensor1D, n2b as tf.Tensor1D, LAYER_NORM_EPS);
    return tf.add(h, mlp(normed, { fc1: fc1 as tf.Tensor2D, fc2: fc2 as tf.Tensor2D })) as tf.Tensor3D;
  }

  /** Runs blocks 0..lastBlock; returns the final tokens and the raw outputs of `collect` blocks (by index). */
  private runTrunk(
    tokens: tf.Tensor3D,
    mask: tf.Tensor4D | null,
    lastBlock: number,
    collect: ReadonlySet<number>,
  ): { x: tf.Tensor3D; outputs: Map<number, tf.Tensor3D> } {
    const outputs = new Map<number, tf.Tensor3D>();
    let x = tokens;
    for (let i = 0; i <= lastBlock; i++) {
      const input = x;
      const weights = TRUNK_BLOCK_WEIGHTS.map((n) => this.params.get(`trunk.blocks.${i}.${n}`) as tf.Tensor);
      // A tidy per block frees its intermediates as soon as it ends (under a gradient tape, tensors the backward
      // pass needs are kept by the tape), which bounds peak memory to about one block's temporaries.
      x = tf.tidy(() => {
        if (!this.recomputeBlocks) return this.trunkBlock(input, weights, mask);
        const extra = mask === null ? [] : [mask];
        return recomputeInBackward(
          (xi, ...rest) => this.trunkBlock(xi, rest.slice(0, weights.length), mask === null ? null : rest[weights.length]),
          [input, ...weights, ...extra],
        ) as tf.Tensor3D;
      });
      if (collect.has(i)) outputs.set(i, x);
    }
    return { x, outputs };
  }

  private maskFor(patches: tf.Tensor3D, prefixLengths: Int32Array | undefined): tf.Tensor4D | null {
    if (prefixLengths === undefined) return null;
    this.checkPrefixLengths(prefixLengths, patches.shape[0]);
    return prefixCausalMask(prefixLengths, numPatches(this.config));
  }

  /**
   * Raw outputs (before the post-trunk norm) of the chosen blocks, in the order given: each [B, K, D].
   * Bidirectional attention unless `prefixLengths` is given. Blocks after the largest index are not run.
   */
  extractFeatures(patches: tf.Tensor3D, options: FeatureOptions): tf.Tensor3D[] {
    this.checkAlive();
    this.checkPatches(patches);
    const { blocks } = options;
    if (blocks.length === 0) throw new Error('extractFeatures: blocks must not be empty');
    for (const b of blocks) {
      if (!Number.isInteger(b) || b < 0 || b >= this.config.depth) {
        throw new Error(`extractFeatures: block ${b} is outside 0..${this.config.depth - 1}`);
      }
    }
    return tf.tidy(() => {
      const mask = this.maskFor(patches, options.prefixLengths);
      const { outputs } = this.runTrunk(this.embed(patches), mask, Math.max(...blocks), new Set(blocks));
      return blocks.map((b) => outputs.get(b)!);
    });
  }

  /** The mean of the chosen blocks' raw outputs (the attentive probe's input), bidirectional: [B, K, D]. */
  probeFeatures(patches: tf.Tensor3D, blocks: readonly number[]): tf.Tensor3D {
    return tf.tidy(() => {
      const feats = this.extractFeatures(patches, { blocks });
      return (feats.length === 1 ? feats[0] : tf.div(tf.addN(feats), feats.length)) as tf.Tensor3D;
    });
  }

  /** The trunk's output after the post-trunk LayerNorm: [B, K, D]. Prefix-causal when `prefixLengths` is given. */
  encode(patches: tf.Tensor3D, options: { prefixLengths?: Int32Array } = {}): tf.Tensor3D {
    this.checkAlive();
    this.checkPatches(patches);
    return tf.tidy(() => {
      const mask = this.maskFor(patches, options.prefixLengths);
      const { x } = this.runTrunk(this.embed(patches), mask, this.config.depth - 1, new Set());
      return this.norm(x, 'trunk.post_trunk_norm') as tf.Tensor3D;
    });
  }

  /** Pretraining head on post-norm trunk tokens: [B, K, D] -> [B, K, p*p*3]. */
  private pretrainHead(tokens: tf.Tensor3D): tf.Tensor3D {
    if (!this.hasPretrainHead || this.headPositions === null) {
      throw new Error(`${this.config.name} was created without a pretraining head (pretrainHead: false)`);
    }
    const h = PRETRAIN_HEAD_PREFIX;
    let x = tf.add(linear(tokens, this.v2(`${h}decoder_projection.weight`), this.v1(`${h}decoder_projection.bias`)), this.headPositions); // [B, K, W]
    for (let i = 0; i < this.config.headDepth; i++) {
      const p = `${h}decoder_blocks.${i}`;
      const input = x;
      x = tf.tidy(() => {
        // Apple's released head blocks are transformer blocks with an identity "attention": x + LN1(x).
        const y = tf.add(input, this.norm(input, `${p}.norm_1`));
        const fc = { fc1: this.v2(`${p}.mlp.fc1.weight`), fc2: this.v2(`${p}.mlp.fc2.weight`) };
        return tf.add(y, mlp(this.norm(y, `${p}.norm_2`), fc));
      });
    }
    const out = this.norm(x, `${h}decoder_norm`);
    return linear(out, this.v2(`${h}decoder_pred.weight`), this.v1(`${h}decoder_pred.bias`)) as tf.Tensor3D;
  }

  /**
   * Pretraining forward pass with prefix-causal attention: patches [B, K, P], prefix lengths S (1..K-1 per sample)
   * -> predictions [B, K, P]; the prediction at position i is for patch i+1.
   */
  forwardPretrain(patches: tf.Tensor3D, prefixLengths: Int32Array): tf.Tensor3D {
    this.checkAlive();
    this.checkPatches(patches);
    this.checkPrefixLengths(prefixLengths, patches.shape[0]);
    return tf.tidy(() => this.pretrainHead(this.encode(patches, { prefixLengths })));
  }

  /** The pretraining objective (normalised-pixel MSE, next-patch shift, non-prefix targets) as a scalar. */
  pretrainLoss(patches: tf.Tensor3D, prefixLengths: Int32Array): tf.Scalar {
    return tf.tidy(() => normalizedPixelLoss(this.forwardPretrain(patches, prefixLengths), patches, prefixLengths));
  }

  /** Trainable parameters in a fixed order (state-dict names; linear weights are held [in, out]). */
  parameters(): NamedParameter[] {
    this.checkAlive();
    return this.params.list();
  }

  /** Total trainable values (trunk + pretraining head when present). */
  parameterCount(): number {
    return this.params.list().reduce((n, p) => n + p.variable.size, 0);
  }

  /** Names and reference shapes of every state-dict tensor, in order. */
  stateSpecs(): StateSpec[] {
    return this.params.stateSpecs();
  }

  /** One state-dict tensor in the reference layout (a new tensor the caller disposes). */
  stateTensor(name: string): tf.Tensor {
    this.checkAlive();
    return this.params.stateTensor(name);
  }

  /** One state-dict tensor's values in the reference layout, converted on the host (what checkpoints write). */
  stateData(name: string): Promise<Float32Array> {
    this.checkAlive();
    return this.params.stateData(name);
  }

  /** Assigns one parameter from reference-layout values of shape `shape` (checked against the parameter's). */
  loadStateData(name: string, values: Float32Array, shape: readonly number[]): void {
    this.checkAlive();
    this.params.assignStateData(name, values, shape);
  }

  /** Every parameter in apple/ml-aim names and layouts (pretraining head under `pretrain_head.`); caller disposes. */
  stateDict(): tf.NamedTensorMap {
    this.checkAlive();
    const out: tf.NamedTensorMap = {};
    for (const { name } of this.params.stateSpecs()) out[name] = this.params.stateTensor(name);
    return out;
  }

  /**
   * Assigns parameters from reference-layout tensors (the caller keeps ownership). Unknown names, wrong shapes and
   * wrong dtypes are errors naming the tensor. Unless `partial`, every trunk parameter must be present, and every
   * pretraining-head parameter too when any is given.
   */
  loadStateDict(tensors: tf.NamedTensorMap, options: { partial?: boolean } = {}): void {
    this.checkAlive();
    const names = Object.keys(tensors);
    for (const name of names) {
      if (!this.params.has(name)) throw new Error(`unexpected tensor '${name}': ${this.config.name} has no such parameter`);
    }
    if (!options.partial) {
      const givesHead = names.some((n) => n.startsWith(PRETRAIN_HEAD_PREFIX));
      for (const { name } of this.params.stateSpecs()) {
        const required = TRUNK_PREFIXES.some((p) => name.startsWith(p)) || givesHead;
        if (required && !(name in tensors)) throw new Error(`missing tensor '${name}'`);
      }
    }
    for (const name of names) this.params.assignState(name, tensors[name]);
  }

  /** Releases every variable and constant; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.params.dispose();
    this.trunkPositions.dispose();
    this.headPositions?.dispose();
    this.disposed = true;
  }
}

/**
 * Builds an AIM model from a registry name or a config, with optional overrides (validated; unknown keys are
 * errors naming the valid ones) and a seed for reproducible initialisation.
 */
export function createAim(nameOrConfig: string | AimConfigInput, overrides: AimConfigOverrides = {}, options: CreateAimOptions = {}): AimModel {
  return new AimModel(resolveAimConfig(nameOrConfig, overrides), options);
}
