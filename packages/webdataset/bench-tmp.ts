import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { readSamples } from './src/index.js';
const { shards } = JSON.parse(await readFile('/tmp/aim-wds-bench/shards.json', 'utf8'));
const res: Record<string, number[]> = {};
async function t(name: string, fn: () => Promise<number>) {
  const s = process.cpuUsage(); const w = performance.now(); await fn(); const d = process.cpuUsage(s); (res[name] ??= []).push((d.user + d.system) / 1000); (res[name + '-wall'] ??= []).push(performance.now() - w);
}
for (let r = 0; r < 9; r++) {
await t('raw', async () => { let b = 0; for (const s of shards) for await (const c of createReadStream(s, { highWaterMark: 1 << 20 })) b += c.length; return b; });
await t('samples', async () => { let b = 0; for await (const e of readSamples(shards)) b++; return b; });
}
for (const [k, v] of Object.entries(res)) console.log(k.padEnd(20), v.map((x) => x.toFixed(0)).join(' '), 'min', Math.min(...v).toFixed(0));
