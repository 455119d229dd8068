// AIM variant configuration: one frozen registry row per variant, one resolver, parameter counts without allocation.
// References: El-Nouby et al., "Scalable Pre-training of Large Autoregressive Image Models" (arXiv 2401.08541),
// Table of variants; apple/ml-aim aim-v1 (`aim_600M` .. `aim_7B`); apple/ml-l3m configs/aimv1 (pretraining head).

/** Which trunk blocks (0-based) an attentive probe averages. */
export interface ProbeBlocks {
  /** The final blocks ("last" in the paper). */
  readonly last: readonly number[];
  /** The paper's best-performing blocks (middle-upper); for development rows an a-priori choice at the same depth ratio. */
  readonly best: readonly number[];
}

/** One AIM variant: trunk, pretraining head and probe settings. Every field is required and validated. */
export interface AimConfig {
  readonly name: string;
  /** Square input side in pixels. */
  readonly imageSize: number;
  /** Square patch side in pixels; imageSize must be a multiple. */
  readonly patchSize: number;
  /** Trunk width D. */
  readonly width: number;
  /** Number of trunk blocks. */
  readonly depth: number;
  /** Attention heads; width / heads is the head dimension. */
  readonly heads: number;
  /** Hidden width of the trunk MLP (4 D in the paper). */
  readonly mlpDim: number;
  /** Pretraining head width (2048 in the paper). */
  readonly headWidth: number;
  /** Pretraining head MLP blocks (12 in the paper). */
  readonly headDepth: number;
  /** Pretraining head MLP hidden width (8192 in the paper). */
  readonly headMlpDim: number;
  readonly probeBlocks: ProbeBlocks;
}

/** LayerNorm epsilon everywhere (apple/ml-aim `LayerNorm = partial(nn.LayerNorm, eps=1e-6)`). */
export const LAYER_NORM_EPS = 1e-6;

function range(start: number, endExclusive: number): readonly number[] {
  return Object.freeze(Array.from({ length: endExclusive - start }, (_, i) => start + i));
}

function paperVariant(name: string, width: number, depth: number, heads: number, bestFirst: number): AimConfig {
  return {
    name,
    imageSize: 224,
    patchSize: 14,
    width,
    depth,
    heads,
    mlpDim: 4 * width,
    headWidth: 2048,
    headDepth: 12,
    headMlpDim: 8192,
    probeBlocks: { last: range(depth - 6, depth), best: range(bestFirst, bestFirst + 6) },
  };
}

function deepFreeze<T extends object>(config: T): T {
  for (const value of Object.values(config)) {
    if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) deepFreeze(value as object);
  }
  return Object.freeze(config);
}

/**
 * The registry. Paper rows follow the paper and apple/ml-aim exactly (head dim 128; probe "best" blocks from the
 * released heads). Development rows keep the architecture and shrink the numbers for 32-64 px images.
 */
export const AIM_VARIANTS: Readonly<Record<string, AimConfig>> = deepFreeze({
  'aim-600M': paperVariant('aim-600M', 1536, 24, 12, 14),
  'aim-1B': paperVariant('aim-1B', 2048, 24, 16, 12),
  'aim-3B': paperVariant('aim-3B', 3072, 24, 24, 12),
  'aim-7B': paperVariant('aim-7B', 4096, 32, 32, 14),
  // Gradient checks and fast unit tests: 16 px, 4x4 grid.
  'aim-dev-nano': {
    name: 'aim-dev-nano',
    imageSize: 16,
    patchSize: 4,
    width: 32,
    depth: 2,
    heads: 2,
    mlpDim: 128,
    headWidth: 32,
    headDepth: 2,
    headMlpDim: 128,
    probeBlocks: { last: [0, 1], best: [0, 1] },
  },
  // The golden fixture's trunk shape (32 px, patch 8, width 64, 3 blocks, 4 heads).
  'aim-dev-tiny': {
    name: 'aim-dev-tiny',
    imageSize: 32,
    patchSize: 8,
    width: 64,
    depth: 3,
    heads: 4,
    mlpDim: 256,
    headWidth: 128,
    headDepth: 2,
    headMlpDim: 512,
    probeBlocks: { last: [1, 2], best: [1, 2] },
  },
  // ~5M parameters in total (trunk + head): the benchmark's batch-32 variant. 32 px, patch 4 -> 64 patches.
  'aim-dev-5M': {
    name: 'aim-dev-5M',
    imageSize: 32,
    patchSize: 4,
    width: 192,
    depth: 8,
    heads: 3,
    mlpDim: 768,
    headWidth: 256,
    headDepth: 2,
    headMlpDim: 1024,
    probeBlocks: { last: [4, 5, 6, 7], best: [3, 4, 5, 6] },
  },
  // ~25M parameters (21M trunk + 4.5M head): 64 px, patch 8 -> 64 patches, width 384, 12 blocks.
  'aim-dev-25M': {
    name: 'aim-dev-25M',
    imageSize: 64,
    patchSize: 8,
    width: 384,
    depth: 12,
    heads: 6,
    mlpDim: 1536,
    headWidth: 512,
    headDepth: 2,
    headMlpDim: 2048,
    probeBlocks: { last: range(6, 12), best: range(5, 11) },
  },
});

/** Names of every registry row, in registry order. */
export const AIM_VARIANT_NAMES: readonly string[] = Object.freeze(Object.keys(AIM_VARIANTS));

const CONFIG_KEYS: readonly (keyof AimConfig)[] = [
  'name',
  'imageSize',
  'patchSize',
  'width',
  'depth',
  'heads',
  'mlpDim',
  'headWidth',
  'headDepth',
  'headMlpDim',
  'probeBlocks',
];

/** Patches per image, K = (imageSize / patchSize)^2. */
export function numPatches(config: AimConfig): number {
  const grid = config.imageSize / config.patchSize;
  return grid * grid;
}

/** Values per patch, p * p * 3. */
export function patchDim(config: AimConfig): number {
  return config.patchSize * config.patchSize * 3;
}

/** Per-head width, width / heads. */
export function headDim(config: AimConfig): number {
  return config.width / config.heads;
}

/** The probe blocks for a depth when none are given: the last min(6, depth) blocks for both choices. */
export function defaultProbeBlocks(depth: number): ProbeBlocks {
  const last = range(Math.max(0, depth - 6), depth);
  return { last, best: last };
}

function fail(config: { name?: unknown }, message: string): never {
  throw new Error(`AimConfig '${String(config.name)}': ${message}`);
}

/** Throws an error naming the field when a config is not a valid AIM architecture. */
export function validateAimConfig(config: AimConfig): void {
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key as keyof AimConfig)) {
      fail(config, `unknown key '${key}' (valid keys: ${CONFIG_KEYS.join(', ')})`);
    }
  }
  if (typeof config.name !== 'string' || config.name.length === 0) fail(config, "'name' must be a non-empty string");
  // Every size field is a positive integer; only the name and the probe-block lists are not sizes.
  const sizes = CONFIG_KEYS.filter((key) => key !== 'name' && key !== 'probeBlocks');
  for (const key of sizes) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      fail(config, `'${key}' must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
  if (config.imageSize % config.patchSize !== 0) {
    fail(config, `'imageSize' (${config.imageSize}) must be a multiple of 'patchSize' (${config.patchSize})`);
  }
  if (numPatches(config) < 2) fail(config, 'needs at least 2 patches for next-patch prediction');
  if (config.width % config.heads !== 0) {
    fail(config, `'width' (${config.width}) must be a multiple of 'heads' (${config.heads})`);
  }
  // The 2-D sin-cos embedding splits the width into 4 equal parts (col sin/cos, row sin/cos).
  if (config.width % 4 !== 0) fail(config, `'width' (${config.width}) must be a multiple of 4 (sin-cos positions)`);
  if (config.headWidth % 4 !== 0) {
    fail(config, `'headWidth' (${config.headWidth}) must be a multiple of 4 (sin-cos positions)`);
  }
  const probe = config.probeBlocks;
  if (probe === null || typeof probe !== 'object') fail(config, "'probeBlocks' must be { last, best }");
  for (const which of ['last', 'best'] as const) {
    const blocks = probe[which];
    if (!Array.isArray(blocks) || blocks.length === 0) {
      fail(config, `'probeBlocks.${which}' must be a non-empty array of block indices`);
    }
    for (const b of blocks) {
      if (!Number.isInteger(b) || b < 0 || b >= config.depth) {
        fail(config, `'probeBlocks.${which}' has block ${JSON.stringify(b)} outside 0..${config.depth - 1}`);
      }
    }
  }
}

/** Overrides accepted by `resolveAimConfig`: any subset of the fields. */
export type AimConfigOverrides = Partial<AimConfig>;

/**
 * A config written by hand: the trunk fields are required; the rest default to the paper's values
 * (mlpDim 4 x width, pretraining head 2048 wide, 12 blocks, MLP 8192) and the last min(6, depth) probe blocks.
 */
export type AimConfigInput = Pick<AimConfig, 'name' | 'imageSize' | 'patchSize' | 'width' | 'depth' | 'heads'> &
  Partial<Pick<AimConfig, 'mlpDim' | 'headWidth' | 'headDepth' | 'headMlpDim' | 'probeBlocks'>>;

function withDefaults(input: AimConfigInput): AimConfig {
  return {
    ...input,
    mlpDim: input.mlpDim ?? 4 * input.width,
    headWidth: input.headWidth ?? 2048,
    headDepth: input.headDepth ?? 12,
    headMlpDim: input.headMlpDim ?? 8192,
    probeBlocks: input.probeBlocks ?? defaultProbeBlocks(input.depth),
  };
}

/**
 * A registry row (by name) or a config (missing optional fields take the paper's defaults, see `AimConfigInput`),
 * with overrides applied, validated and frozen.
 * When `depth` is overridden without `probeBlocks`, the probe blocks become the last min(6, depth) blocks.
 */
export function resolveAimConfig(nameOrConfig: string | AimConfigInput, overrides: AimConfigOverrides = {}): AimConfig {
  let base: AimConfig;
  if (typeof nameOrConfig === 'string') {
    const row = AIM_VARIANTS[nameOrConfig];
    if (row === undefined) {
      throw new Error(`unknown AIM variant '${nameOrConfig}' (valid: ${AIM_VARIANT_NAMES.join(', ')})`);
    }
    base = row;
  } else {
    if (nameOrConfig === null || typeof nameOrConfig !== 'object') {
      throw new Error(`resolveAimConfig: expected a variant name or a config object, got ${String(nameOrConfig)}`);
    }
    base = withDefaults(nameOrConfig);
  }
  for (const key of Object.keys(overrides)) {
    if (!CONFIG_KEYS.includes(key as keyof AimConfig)) {
      throw new Error(`unknown AimConfig override '${key}' (valid keys: ${CONFIG_KEYS.join(', ')})`);
    }
  }
  const merged: AimConfig = { ...base, ...overrides };
  const depthChanged = overrides.depth !== undefined && overrides.depth !== base.depth;
  const probeBlocks = depthChanged && overrides.probeBlocks === undefined ? defaultProbeBlocks(merged.depth) : merged.probeBlocks;
  const config: AimConfig = {
    ...merged,
    probeBlocks: { last: [...probeBlocks.last], best: [...probeBlocks.best] },
  };
  validateAimConfig(config);
  return deepFreeze(config);
}

/** Trunk parameters (patch embedding + its norm, blocks, post-trunk norm), computed from the config alone. */
export function trunkParamCount(config: AimConfig): number {
  const d = config.width;
  const patchEmbed = patchDim(config) * d + d + 2 * d;
  const block = 3 * d * d + d * d + 2 * d * config.mlpDim + 4 * d;
  return patchEmbed + config.depth * block + 2 * d;
}

/** Pretraining head parameters (projection, MLP blocks with their two norms each, final norm, prediction). */
export function pretrainHeadParamCount(config: AimConfig): number {
  const w = config.headWidth;
  const block = 4 * w + 2 * w * config.headMlpDim;
  return config.width * w + w + config.headDepth * block + 2 * w + w * patchDim(config) + patchDim(config);
}

/** Attentive probe parameters for a class count (query token, k, v, linear; BatchNorm has no parameters). */
export function attentiveProbeParamCount(config: AimConfig, numClasses: number): number {
  const d = config.width;
  return d + 2 * d * d + d * numClasses;
}
