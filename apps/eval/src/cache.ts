// Feature cache: frozen features of a trunk on one data split (the mean of a set of blocks' raw outputs), stored as
// safetensors and keyed by (trunk identity, blocks, data spec, transform), so probe training and sweeps repeat without
// re-running the trunk.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type SafetensorsFile, readSafetensors, writeSafetensors } from '@aim/model';
import type { TokenFeatures } from './features.js';

export interface CacheKey {
  /** `sha256:<hex>` of a checkpoint file, or a description of a random-init trunk (config and seed). */
  readonly trunk: string;
  /** The 0-based blocks whose outputs are averaged, in the order they are summed (one block: its output). */
  readonly blocks: readonly number[];
  readonly data: { readonly spec: string; readonly limit: number };
  /** `revision`: @aim/data's TRANSFORM_REVISION, so features made by an older pixel pipeline are not reused. */
  readonly transform: { readonly name: string; readonly imageSize: number; readonly patchSize: number; readonly revision: number };
}

export interface CachedFeatures {
  readonly features: TokenFeatures;
  readonly labels: Int32Array;
}

const KEY_METADATA = 'eval.cache_key';

/** Canonical JSON (sorted keys) so equal keys always hash alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Content hash of a file, streamed (a checkpoint may be large). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export class FeatureCache {
  /** `dir` null: a cache that never hits and never writes. */
  constructor(readonly dir: string | null) {}

  fileFor(key: CacheKey): string | null {
    if (this.dir === null) return null;
    const digest = createHash('sha256').update(canonical(key)).digest('hex').slice(0, 32);
    return join(this.dir, `${digest}.safetensors`);
  }

  /** Whether an entry for `key` is there (what `get` would find, without reading the features). */
  async has(key: CacheKey): Promise<boolean> {
    const path = this.fileFor(key);
    if (path === null) return false;
    try {
      const file = await readSafetensors(path);
      try {
        return this.holds(file, key);
      } finally {
        await file.close();
      }
    } catch {
      return false;
    }
  }

  /** The file is the entry for `key`: its key in the metadata, features [n, tokens, dim] and I32 labels. */
  private holds(file: SafetensorsFile, key: CacheKey): boolean {
    const info = file.tensors.get('features');
    const labelInfo = file.tensors.get('labels');
    return file.metadata[KEY_METADATA] === canonical(key) && info?.shape.length === 3 && labelInfo?.dtype === 'I32';
  }

  /** The cached entry, or null on a miss (absent, unreadable, or written for another key). */
  async get(key: CacheKey): Promise<CachedFeatures | null> {
    const path = this.fileFor(key);
    if (path === null) return null;
    let file;
    try {
      file = await readSafetensors(path);
    } catch {
      return null;
    }
    try {
      if (!this.holds(file, key)) return null;
      const [n, tokens, dim] = file.tensors.get('features')!.shape;
      const data = await file.readFloat32('features');
      const labels = (await file.read('labels')) as Int32Array;
      return { features: { data, n, tokens, dim }, labels };
    } finally {
      await file.close();
    }
  }

  async put(key: CacheKey, value: CachedFeatures): Promise<void> {
    const path = this.fileFor(key);
    if (path === null) return;
    const { features: f, labels } = value;
    if (labels.length !== f.n) throw new Error(`feature cache: ${labels.length} labels for ${f.n} samples`);
    await mkdir(this.dir!, { recursive: true });
    await writeSafetensors(
      path,
      [
        { name: 'features', dtype: 'F32', shape: [f.n, f.tokens, f.dim], data: f.data },
        { name: 'labels', dtype: 'I32', shape: [f.n], data: labels },
      ],
      { [KEY_METADATA]: canonical(key) },
    );
  }
}
