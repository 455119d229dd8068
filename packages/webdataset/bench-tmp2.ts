import { readFile, open } from 'node:fs/promises';
import { readTarEntries } from './src/index.js';
const { shards } = JSON.parse(await readFile('/tmp/aim-wds-bench/shards.json', 'utf8'));
async function* reusing(path: string, size = 1 << 20): AsyncGenerator<Uint8Array> {
  const fh = await open(path);
  try {
    const bufs = [new Uint8Array(size), new Uint8Array(size)];
    let pos = 0; let which = 0;
    let pending = fh.read(bufs[0], 0, size, pos);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return;
      const cur = bufs[which]; pos += bytesRead; which ^= 1;
      pending = fh.read(bufs[which], 0, size, pos);
      yield bytesRead === size ? cur : cur.subarray(0, bytesRead);
    }
  } finally { await fh.close(); }
}
for (let r = 0; r < 10; r++) { let b = 0; for (const s of shards) for await (const e of readTarEntries(reusing(s))) b += 'data' in e ? e.data.length : 0; }
