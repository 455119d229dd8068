// Writes test shards with @aim/webdataset's ShardWriter into a fresh temporary directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShardWriter, type WritableSample } from '@aim/webdataset';

export interface TempShards {
  dir: string;
  paths: string[];
  remove(): void;
}

export async function writeShards(samples: WritableSample[], perShard: number, name = 'shard'): Promise<TempShards> {
  const dir = mkdtempSync(join(tmpdir(), 'aim-data-test-'));
  const paths: string[] = [];
  const writer = new ShardWriter({ pattern: join(dir, `${name}-%04d.tar`), maxCount: perShard, onShard: (s) => paths.push(s.path) });
  for (const s of samples) await writer.write(s);
  await writer.close();
  return { dir, paths: paths.sort(), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
