import { resizeBicubic } from './src/resample.ts';
for (const [w, h] of [[420, 310], [224, 310], [420, 224]]) {
  const img = { data: new Uint8Array(w * h * 3).map((_, i) => (i * 31) & 255), width: w, height: h, channels: 3 as const };
  for (let i = 0; i < 200; i++) resizeBicubic(img, 224, 224);
  const t = performance.now(); const n = 2000;
  for (let i = 0; i < n; i++) resizeBicubic(img, 224, 224);
  console.log(w, h, ((performance.now() - t) / n).toFixed(3), 'ms');
}
