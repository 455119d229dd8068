// A probe file (eval:probe's probe.safetensors, or apple/ml-aim weights with a `head.*` probe) turned into what the
// page computes with: the config, the probe blocks, the trunk in the engine's compute layout and the probe's weights.
import { type AimConfig, aimParameterSpecs, aimStateSpecs, configFromMetadata } from '@aim/model/spec';
import { parseSafetensors } from './safetensors.js';
import type { AttentiveProbeWeights } from './probe.js';

/** Metadata key eval:probe records the probe's blocks under (apps/eval PROBE_BLOCKS_METADATA_KEY). */
export const PROBE_BLOCKS_METADATA_KEY = 'aim.probe_blocks';
/** Metadata key eval:probe records the class names under (apps/eval CLASS_NAMES_METADATA_KEY). */
export const CLASS_NAMES_METADATA_KEY = 'aim.class_names';

export interface ProbeModel {
  readonly config: AimConfig;
  /** Blocks whose raw outputs are averaged into the probe's input. */
  readonly blocks: readonly number[];
  /** Trunk parameters in the compute layout (linear [in, out], patch embedding [p*p*3, D]). */
  readonly trunk: Map<string, Float32Array>;
  readonly probe: AttentiveProbeWeights;
  /** Names of classes 0..n-1 when the file records them; the page shows label numbers otherwise. */
  readonly classNames?: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** Parses and checks a probe file; every error names the file and the offending tensor or key. */
export function loadProbeFile(buffer: ArrayBuffer, name = 'probe file'): ProbeModel {
  const file = parseSafetensors(buffer, name);
  const config = configFromMetadata(file.metadata, name);
  if (!config) throw new Error(`${name}: no AIM config in its metadata ('aim.config' or apple/ml-aim keys)`);
  const shapeOf = (tensor: string, want: readonly number[]): void => {
    const t = file.tensors.get(tensor);
    if (!t) throw new Error(`${name}: missing tensor '${tensor}'`);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${name}: tensor '${tensor}' has shape [${t.shape}], expected [${want}]`);
    }
  };
  for (const s of aimStateSpecs(config, { pretrainHead: false })) shapeOf(s.name, s.shape);
  const trunk = new Map<string, Float32Array>();
  for (const spec of aimParameterSpecs(config, { pretrainHead: false })) {
    const stored = file.float32(spec.name);
    if (spec.layout === 'linear') {
      trunk.set(spec.name, transpose(stored, spec.shape[1], spec.shape[0])); // [out, in] -> [in, out]
    } else if (spec.layout === 'patchEmbed') {
      // conv [D, 3, p, p] -> rows (row, col, channel), columns D
      const [pd, d] = spec.shape;
      const p = Math.round(Math.sqrt(pd / 3));
      const out = new Float32Array(pd * d);
      for (let o = 0; o < d; o++)
        for (let ch = 0; ch < 3; ch++)
          for (let r = 0; r < p; r++) for (let c = 0; c < p; c++) out[((r * p + c) * 3 + ch) * d + o] = stored[((o * 3 + ch) * p + r) * p + c];
      trunk.set(spec.name, out);
    } else {
      trunk.set(spec.name, stored);
    }
  }
  const d = config.width;
  const linear = file.tensors.get('head.linear.weight');
  if (!linear) throw new Error(`${name}: no attentive probe in this file (missing tensor 'head.linear.weight'); eval:probe writes one`);
  const numClasses = linear.shape[0];
  shapeOf('head.linear.weight', [numClasses, d]);
  shapeOf('head.cls_token', [1, 1, d]);
  shapeOf('head.k.weight', [d, d]);
  shapeOf('head.v.weight', [d, d]);
  shapeOf('head.bn.running_mean', [d]);
  shapeOf('head.bn.running_var', [d]);
  const probe: AttentiveProbeWeights = {
    width: d,
    heads: config.heads,
    numClasses,
    query: file.float32('head.cls_token'),
    k: transpose(file.float32('head.k.weight'), d, d),
    v: transpose(file.float32('head.v.weight'), d, d),
    linear: transpose(file.float32('head.linear.weight'), numClasses, d),
    runningMean: file.float32('head.bn.running_mean'),
    runningVar: file.float32('head.bn.running_var'),
  };
  let blocks: number[] = [...config.probeBlocks.last];
  const raw = file.metadata[PROBE_BLOCKS_METADATA_KEY];
  if (raw !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((b) => Number.isInteger(b) && b >= 0 && b < config.depth)) {
      throw new Error(`${name}: metadata '${PROBE_BLOCKS_METADATA_KEY}' must be a JSON list of block indices below ${config.depth}, got ${raw}`);
    }
    blocks = parsed as number[];
  }
  const classNames = parseClassNames(file.metadata[CLASS_NAMES_METADATA_KEY], numClasses, name);
  return { config, blocks, trunk, probe, ...(classNames ? { classNames } : {}), metadata: file.metadata };
}

function parseClassNames(raw: string | undefined, numClasses: number, name: string): string[] | undefined {
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== numClasses || !parsed.every((n) => typeof n === 'string')) {
    throw new Error(`${name}: metadata '${CLASS_NAMES_METADATA_KEY}' must be a JSON list of ${numClasses} names, got ${raw.slice(0, 80)}`);
  }
  return parsed as string[];
}
