// The AIM config a safetensors file records in its metadata (ours or apple/ml-aim's keys). No tfjs: browser-safe.
import { type AimConfig, defaultProbeBlocks, resolveAimConfig } from './config.js';

export const CONFIG_METADATA_KEY = 'aim.config';

/** Metadata entries that record a config. */
export function configMetadata(config: AimConfig): Record<string, string> {
  return { [CONFIG_METADATA_KEY]: JSON.stringify(config) };
}

/**
 * The config recorded in a file's metadata: our `aim.config` JSON, or apple/ml-aim style keys (img_size,
 * patch_size, embed_dim, num_blocks, num_heads, optional probe_layers; MLP 4x, paper pretraining-head defaults).
 * Returns null when neither is present.
 */
export function configFromMetadata(metadata: Readonly<Record<string, string>>, name = 'checkpoint'): AimConfig | null {
  const json = metadata[CONFIG_METADATA_KEY];
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw new Error(`metadata '${CONFIG_METADATA_KEY}' is not JSON: ${(e as Error).message}`);
    }
    return resolveAimConfig(parsed as AimConfig);
  }
  const keys = ['img_size', 'patch_size', 'embed_dim', 'num_blocks', 'num_heads'];
  if (!keys.every((k) => k in metadata)) return null;
  const int = (k: string): number => {
    const v = Number(metadata[k]);
    if (!Number.isInteger(v)) throw new Error(`metadata '${k}' is not an integer: ${metadata[k]}`);
    return v;
  };
  const depth = int('num_blocks');
  const probeCount = Math.min('probe_layers' in metadata ? int('probe_layers') : 6, depth);
  const last = Array.from({ length: probeCount }, (_, i) => depth - probeCount + i);
  // MLP width and pretraining head take the paper's defaults (AimConfigInput).
  return resolveAimConfig({
    name,
    imageSize: int('img_size'),
    patchSize: int('patch_size'),
    width: int('embed_dim'),
    depth,
    heads: int('num_heads'),
    probeBlocks: last.length > 0 ? { last, best: last } : defaultProbeBlocks(depth),
  });
}
