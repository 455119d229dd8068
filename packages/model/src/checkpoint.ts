// AIM checkpoints in safetensors: config in __metadata__, apple/ml-aim names for trunk and probe, strict checks.
// References: apple/ml-aim aim-v1 state dicts (`_aim(img_size, patch_size, embed_dim, num_blocks, num_heads, ...)`).
import type * as tf from '@tensorflow/tfjs-core';
import { type AimConfig, type AimConfigInput, resolveAimConfig } from './config.js';
import { CONFIG_METADATA_KEY, configFromMetadata, configMetadata } from './config-metadata.js';
import { AimModel } from './model.js';
import { PRETRAIN_HEAD_PREFIX, type StateSpec, aimStateSpecs } from './param-specs.js';
import { sameShape } from './parameters.js';
import { AttentiveProbe } from './probe.js';
import { FLOAT_DTYPES, type SafetensorsFile, type SafetensorsWriteEntry, type WrittenFile, readSafetensors, writeSafetensors } from './safetensors.js';

/** `__metadata__` key holding the resolved AimConfig as JSON. */
export { CONFIG_METADATA_KEY, configFromMetadata, configMetadata } from './config-metadata.js';

/** Expected attentive-probe tensors for a trunk config (apple/ml-aim `head.*` names). */
export function attentiveProbeStateSpecs(config: AimConfig, numClasses: number): (StateSpec & { int?: boolean })[] {
  const d = config.width;
  return [
    { name: 'head.cls_token', shape: [1, 1, d] },
    { name: 'head.k.weight', shape: [d, d] },
    { name: 'head.v.weight', shape: [d, d] },
    { name: 'head.linear.weight', shape: [numClasses, d] },
    { name: 'head.bn.running_mean', shape: [d] },
    { name: 'head.bn.running_var', shape: [d] },
    { name: 'head.bn.num_batches_tracked', shape: [], int: true },
  ];
}

export interface CheckpointContents {
  /** Whether the file holds the pretraining head (all of it; a partial head is an error). */
  pretrainHead: boolean;
  /** Classes of the attentive probe in the file, or null when it has none. */
  probeClasses: number | null;
  /** Tensors outside the model and probe namespaces that were allowed (e.g. optimizer state). */
  extraNames: string[];
}

/**
 * Checks a file's tensors against a config and throws an error naming the first offending tensor: a missing
 * trunk tensor, a partial pretraining head or probe, a wrong shape, a wrong dtype (model tensors must be floating,
 * F32/F16/BF16/F64; num_batches_tracked an integer), or an unknown tensor outside `allowPrefixes`.
 */
export function checkCheckpoint(
  file: SafetensorsFile,
  config: AimConfig,
  options: { allowPrefixes?: readonly string[]; requirePretrainHead?: boolean } = {},
): CheckpointContents {
  const allow = options.allowPrefixes ?? ['optimizer.'];
  const where = file.path;
  const names = [...file.tensors.keys()];
  const pretrainHead = options.requirePretrainHead === true || names.some((n) => n.startsWith(PRETRAIN_HEAD_PREFIX));
  const linearWeight = file.tensors.get('head.linear.weight');
  const hasProbe = names.some((n) => n.startsWith('head.'));
  let probeClasses: number | null = null;
  if (hasProbe) {
    if (linearWeight === undefined) throw new Error(`${where}: missing tensor 'head.linear.weight'`);
    probeClasses = linearWeight.shape[0];
  }
  const specs: (StateSpec & { int?: boolean })[] = [
    ...aimStateSpecs(config, { pretrainHead }),
    ...(probeClasses !== null ? attentiveProbeStateSpecs(config, probeClasses) : []),
  ];
  const expected = new Map(specs.map((s) => [s.name, s]));
  for (const spec of specs) {
    const info = file.tensors.get(spec.name);
    if (info === undefined) {
      throw new Error(`${where}: missing tensor '${spec.name}' (expected shape [${spec.shape}]) for ${config.name}`);
    }
    if (!sameShape(info.shape, spec.shape)) {
      throw new Error(`${where}: tensor '${spec.name}' has shape [${info.shape}], expected [${spec.shape}] for ${config.name}`);
    }
    const dtypeOk = spec.int ? ['I64', 'I32'].includes(info.dtype) : FLOAT_DTYPES.includes(info.dtype);
    if (!dtypeOk) {
      const want = spec.int ? 'I64 or I32' : FLOAT_DTYPES.join('/');
      throw new Error(`${where}: tensor '${spec.name}' has dtype ${info.dtype}, expected ${want}`);
    }
  }
  const extraNames: string[] = [];
  for (const name of names) {
    if (expected.has(name)) continue;
    if (allow.some((p) => name.startsWith(p))) {
      extraNames.push(name);
      continue;
    }
    throw new Error(`${where}: unexpected tensor '${name}' (not a parameter of ${config.name})`);
  }
  return { pretrainHead, probeClasses, extraNames };
}

export interface SaveAimOptions {
  model: AimModel;
  probe?: AttentiveProbe;
  /** More tensors (e.g. `optimizer.*` state), written after the model's. */
  extra?: readonly SafetensorsWriteEntry[];
  /** More metadata (strings); the config is always recorded under `aim.config`. */
  metadata?: Record<string, string>;
}

function lazyFloat(name: string, shape: readonly number[], get: () => tf.Tensor): SafetensorsWriteEntry {
  return {
    name,
    dtype: 'F32',
    shape,
    data: async () => {
      const t = get();
      try {
        return (await t.data()) as Float32Array;
      } finally {
        t.dispose();
      }
    },
  };
}

/**
 * Writes model (+ probe, + extras) to `path`, streamed one tensor at a time, atomically (temp file + rename); returns
 * the file's size and SHA-256.
 */
export async function saveAimCheckpoint(path: string, options: SaveAimOptions): Promise<WrittenFile> {
  const { model, probe } = options;
  const entries: SafetensorsWriteEntry[] = model.stateSpecs().map((s) => ({ name: s.name, dtype: 'F32', shape: s.shape, data: () => model.stateData(s.name) }));
  if (probe !== undefined) {
    for (const s of probe.stateSpecs()) {
      if (s.dtype === 'int64') {
        entries.push({
          name: s.name,
          dtype: 'I64',
          shape: s.shape,
          data: async () => {
            const t = probe.stateTensor(s.name);
            try {
              return BigInt64Array.of(BigInt((await t.data())[0]));
            } finally {
              t.dispose();
            }
          },
        });
      } else {
        entries.push(lazyFloat(s.name, s.shape, () => probe.stateTensor(s.name)));
      }
    }
  }
  entries.push(...(options.extra ?? []));
  return writeSafetensors(path, entries, { ...(options.metadata ?? {}), ...configMetadata(model.config) });
}

export interface LoadAimOptions {
  /** The config to check the file against; default: the one in the file's metadata. */
  config?: AimConfigInput | string;
  /** Initialisation seed for anything the file does not hold (a missing pretraining head). */
  seed?: number;
  /** Build a pretraining head even when the file has none (randomly initialised from `seed`). Default false. */
  pretrainHead?: boolean;
  /** Tensor-name prefixes that may be present besides model and probe (default ['optimizer.']). */
  allowPrefixes?: readonly string[];
  /** Passed to the model: activation checkpointing of trunk blocks (see `CreateAimOptions`). */
  recomputeBlocks?: boolean;
}

export interface LoadedAim {
  model: AimModel;
  /** The attentive probe when the file has `head.*` tensors (e.g. a released apple/ml-aim checkpoint). */
  probe: AttentiveProbe | null;
  metadata: Readonly<Record<string, string>>;
  /** Allowed tensors the model did not use (read them with `readSafetensors`). */
  extraNames: string[];
}

/**
 * Loads a checkpoint: checks every tensor against the config first (nothing is allocated for a bad file), then
 * reads one tensor at a time into a new model (and probe). Float16/bfloat16 weights are widened to float32.
 */
export async function loadAimCheckpoint(path: string, options: LoadAimOptions = {}): Promise<LoadedAim> {
  const file = await readSafetensors(path);
  try {
    const config = options.config !== undefined ? resolveAimConfig(options.config) : configFromMetadata(file.metadata, path);
    if (config === null) {
      throw new Error(`${path}: no config in metadata ('${CONFIG_METADATA_KEY}' or apple/ml-aim keys); pass options.config`);
    }
    const contents = checkCheckpoint(file, config, { allowPrefixes: options.allowPrefixes });
    const model = new AimModel(config, {
      seed: options.seed,
      pretrainHead: contents.pretrainHead || options.pretrainHead === true,
      recomputeBlocks: options.recomputeBlocks,
    });
    let probe: AttentiveProbe | null = null;
    try {
      for (const spec of aimStateSpecs(config, { pretrainHead: contents.pretrainHead })) {
        model.loadStateData(spec.name, await file.readFloat32(spec.name), spec.shape);
      }
      if (contents.probeClasses !== null) {
        probe = new AttentiveProbe({ width: config.width, heads: config.heads, numClasses: contents.probeClasses });
        const tensors: tf.NamedTensorMap = {};
        try {
          for (const spec of attentiveProbeStateSpecs(config, contents.probeClasses)) {
            tensors[spec.name] = await file.readTensor(spec.name);
          }
          await probe.loadStateDict(tensors);
        } finally {
          for (const t of Object.values(tensors)) t.dispose();
        }
      }
    } catch (e) {
      model.dispose();
      probe?.dispose();
      throw e;
    }
    return { model, probe, metadata: file.metadata, extraNames: contents.extraNames };
  } finally {
    await file.close();
  }
}
