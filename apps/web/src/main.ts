// The page: load a probe file, run the eval transform on a drawing or a photo, the trunk on WebGPU (@aim/gpu's
// engine; without WebGPU, tfjs-backend-wasm, and failing that a plain TypeScript trunk; ?compute=webgpu|wasm|cpu
// forces one), the attentive probe in TypeScript, then show the top-5 classes and the probe's attention as a heat map.
import { AimEngine, requestEngineDevice } from '@aim/gpu';
import { numPatches, patchDim } from '@aim/model/spec';
import { cpuExtractFeatures } from './cpu-trunk.js';
import { type ProbeModel, loadProbeFile } from './probe-file.js';
import { attentiveProbe, averageBlocks, topK } from './probe.js';
import { transformImage } from './transform.js';
import { createWasmTrunk } from './wasm-trunk.js';

/** Images per engine call; larger inputs run in chunks. */
const ENGINE_BATCH = 4;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
};

/** Where the trunk runs: the WebGPU engine, or the TypeScript fallback. */
interface Trunk {
  /** What the page says it computes with. */
  readonly label: string;
  extract(patches: Float32Array, rows: number, blocks: readonly number[]): Promise<Float32Array[]>;
  destroy(): Promise<void>;
}

interface Loaded {
  model: ProbeModel;
  trunk: Trunk;
  name: string;
}

let device: GPUDevice | null = null;
let adapterName = '';
/** ?compute=webgpu|wasm|cpu forces a trunk; by default the first of them that starts. */
const forced = new URLSearchParams(location.search).get('compute');
/** Why the page is not using WebGPU (null while it is, or before it tried). */
let noGpuReason: string | null = forced === 'wasm' || forced === 'cpu' ? `asked for ?compute=${forced}` : null;
/** Why the page is not using the wasm trunk either. */
let noWasmReason: string | null = forced === 'cpu' ? 'asked for ?compute=cpu' : null;
let loaded: Loaded | null = null;

function setStatus(text: string): void {
  $('status').textContent = text;
}

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  $('error').textContent = message;
  $('error').hidden = false;
  console.error(e);
}

function clearError(): void {
  $('error').hidden = true;
  $('error').textContent = '';
}

async function gpuDevice(): Promise<GPUDevice> {
  if (device) return device;
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new Error('navigator.gpu is missing (a recent Chrome or Edge has it; Chromium on Linux needs --enable-unsafe-webgpu)');
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('WebGPU is present but offered no adapter');
  const info = (adapter as { info?: { vendor?: string; architecture?: string; description?: string } }).info;
  adapterName = [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' ') || 'unknown adapter';
  device = await requestEngineDevice(adapter);
  device.lost.then((l) => showError(`WebGPU device lost: ${l.message}`));
  return device;
}

async function gpuTrunk(model: ProbeModel): Promise<Trunk> {
  const engine = await AimEngine.create(await gpuDevice(), model.config, { batch: ENGINE_BATCH, pretrainHead: false });
  try {
    engine.setParameters(model.trunk);
  } catch (e) {
    await engine.destroy();
    throw e;
  }
  return {
    label: `WebGPU (@aim/gpu WGSL engine) on ${adapterName}`,
    extract: (patches, _rows, blocks) => engine.extractFeatures(patches, { blocks }),
    destroy: () => engine.destroy(),
  };
}

function cpuTrunk(model: ProbeModel): Trunk {
  return {
    label: `TypeScript on the CPU (no WebGPU: ${noGpuReason}; no wasm: ${noWasmReason})`,
    extract: async (patches, rows, blocks) => cpuExtractFeatures(model.config, model.trunk, patches, rows, blocks),
    destroy: async () => {},
  };
}

/** The WebGPU trunk when the browser has WebGPU, else the wasm one, else (if wasm fails to start) the TypeScript one. */
async function makeTrunk(model: ProbeModel): Promise<Trunk> {
  if (noGpuReason === null) {
    try {
      await gpuDevice();
    } catch (e) {
      if (forced === 'webgpu') throw e;
      noGpuReason = (e as Error).message;
    }
  }
  if (noGpuReason === null) return gpuTrunk(model);
  if (noWasmReason === null) {
    try {
      const wasm = await createWasmTrunk(model);
      return { ...wasm, label: `${wasm.label} (no WebGPU: ${noGpuReason})` };
    } catch (e) {
      if (forced === 'wasm') throw e;
      noWasmReason = (e as Error).message;
    }
  }
  return cpuTrunk(model);
}

/** Parses a probe file and builds its trunk; on any error the previously loaded model stays in use. */
async function loadProbe(buffer: ArrayBuffer, name: string): Promise<void> {
  const model = loadProbeFile(buffer, name);
  const trunk = await makeTrunk(model);
  const previous = loaded;
  loaded = { model, trunk, name };
  if (previous) await previous.trunk.destroy();
  const c = model.config;
  setStatus(
    `${name}: ${c.name}, ${c.imageSize} px, patch ${c.patchSize} (${numPatches(c)} patches), width ${c.width}, ` +
      `${c.depth} blocks; probe over blocks ${model.blocks.join(', ')}, ${model.probe.numClasses} classes`,
  );
  $('compute').textContent = `trunk: ${trunk.label}; attentive probe: TypeScript on the CPU`;
  for (const id of ['classify', 'image']) ($(id) as HTMLButtonElement | HTMLInputElement).disabled = false;
}

/**
 * patches [b, K, P] -> logits [b, C], probe attention [b, H, K], and for sample 0 the mean token norm of every
 * block's output [depth] (how the features grow through the trunk).
 */
async function classifyPatches(patches: Float32Array, b: number): Promise<{ logits: Float32Array; attention: Float32Array; norms: Float32Array }> {
  if (!loaded) throw new Error('no probe file loaded');
  const { model, trunk } = loaded;
  const k = numPatches(model.config);
  const per = k * patchDim(model.config);
  if (patches.length !== b * per) throw new Error(`patches hold ${patches.length} values, expected ${b} x ${k} x ${patchDim(model.config)}`);
  const c = model.probe.numClasses;
  const h = model.config.heads;
  const logits = new Float32Array(b * c);
  const attention = new Float32Array(b * h * k);
  const every = Array.from({ length: model.config.depth }, (_, i) => i);
  let norms: Float32Array = new Float32Array(0);
  for (let s = 0; s < b; s += ENGINE_BATCH) {
    const rows = Math.min(ENGINE_BATCH, b - s);
    const blocks = await trunk.extract(patches.subarray(s * per, (s + rows) * per), rows, every);
    if (s === 0) norms = meanTokenNorms(blocks, k, model.config.width);
    const out = attentiveProbe(model.probe, averageBlocks(model.blocks.map((i) => blocks[i])), rows, k);
    logits.set(out.logits, s * c);
    attention.set(out.attention, s * h * k);
  }
  return { logits, attention, norms };
}

/** Mean L2 norm of sample 0's K tokens in each block output ([rows, K, D] each). */
function meanTokenNorms(blocks: readonly Float32Array[], k: number, d: number): Float32Array {
  return Float32Array.from(blocks, (f) => {
    let sum = 0;
    for (let t = 0; t < k; t++) {
      let q = 0;
      for (let j = 0; j < d; j++) q += f[t * d + j] ** 2;
      sum += Math.sqrt(q);
    }
    return sum / k;
  });
}

/** One bar per block, the probe's blocks marked: where the features the probe reads sit in the trunk. */
function showNorms(norms: Float32Array, model: ProbeModel): void {
  const max = Math.max(...norms);
  const rows = Array.from(norms, (n, i) => {
    const row = document.createElement('div');
    row.className = 'bar';
    const bar = document.createElement('span');
    bar.style.width = `${(100 * n) / max}%`;
    if (model.blocks.includes(i)) bar.classList.add('probe');
    row.append(`block ${i}${model.blocks.includes(i) ? ' (probe)' : ''}: ${n.toFixed(2)}`, bar);
    return row;
  });
  $('norms').replaceChildren(...rows);
}

/** Draws the crop with the probe's attention (mean over heads) over it, scaled to the canvas. */
function drawHeatmap(rgba: Uint8ClampedArray, attention: Float32Array, model: ProbeModel): void {
  const c = model.config;
  const size = c.imageSize;
  const grid = size / c.patchSize;
  const k = grid * grid;
  const h = c.heads;
  const mean = new Float32Array(k);
  for (let head = 0; head < h; head++) for (let t = 0; t < k; t++) mean[t] += attention[head * k + t] / h;
  const max = Math.max(...mean);
  const min = Math.min(...mean);
  const canvas = $('heatmap') as HTMLCanvasElement;
  const ctx = canvas.getContext('2d')!;
  const image = new OffscreenCanvas(size, size);
  image.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  const cell = canvas.width / grid;
  for (let t = 0; t < k; t++) {
    // Min-max scaled: blue where the probe looks least, red where it looks most.
    const a = max > min ? (mean[t] - min) / (max - min) : 0.5;
    ctx.fillStyle = `rgba(${Math.round(255 * a)}, ${Math.round(60 * (1 - a))}, ${Math.round(255 * (1 - a))}, 0.55)`;
    ctx.fillRect((t % grid) * cell, Math.floor(t / grid) * cell, cell, cell);
  }
  $('heat-range').textContent = `attention per patch (mean over ${h} heads): ${(100 * min).toFixed(1)}% (blue) to ${(100 * max).toFixed(1)}% (red)`;
}

function showTop5(logits: Float32Array, model: ProbeModel): void {
  const list = $('top5');
  list.replaceChildren();
  for (const { cls, prob } of topK(logits, model.probe.numClasses, 0, Math.min(5, model.probe.numClasses))) {
    const li = document.createElement('li');
    li.textContent = `${model.classNames?.[cls] ?? `class ${cls}`}: ${(100 * prob).toFixed(1)}%`;
    list.append(li);
  }
}

async function classifyImage(image: CanvasImageSource & { width: number; height: number }): Promise<void> {
  if (!loaded) throw new Error('load a probe file first');
  const { model } = loaded;
  const t0 = performance.now();
  const { patches, rgba } = transformImage(image, model.config.imageSize, model.config.patchSize);
  const { logits, attention, norms } = await classifyPatches(patches, 1);
  showTop5(logits, model);
  drawHeatmap(rgba, attention, model);
  showNorms(norms, model);
  $('timing').textContent = `${(performance.now() - t0).toFixed(0)} ms (transform, trunk, probe)`;
}

/** The page's actions run one at a time: the engine has one staging buffer, and a load must not free a trunk in use. */
let queue: Promise<unknown> = Promise.resolve();
function serial<T>(action: () => Promise<T>): Promise<T> {
  const run = queue.then(action, action);
  queue = run.catch(() => undefined);
  return run;
}

/** Runs an action after the ones before it, showing its error on the page; the page keeps working afterwards. */
function guarded(action: () => Promise<void>): Promise<void> {
  return serial(async () => {
    clearError();
    try {
      await action();
    } catch (e) {
      showError(e);
    }
  });
}

/**
 * The drawing framed as MNIST frames its digits (LeCun et al.: the digit scaled into a 20 x 20 box, placed in 28 x 28
 * with its centre of mass at the centre), so a model probed on MNIST sees what it was trained on; the eval transform
 * then runs on that 28 x 28 image as it does on MNIST's.
 */
function mnistFramed(canvas: HTMLCanvasElement): OffscreenCanvas {
  const { width, height } = canvas;
  const px = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (px[(y * width + x) * 4] > 0) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
  if (x1 < 0) throw new Error('the canvas is empty: draw a digit first');
  const [bw, bh] = [x1 - x0 + 1, y1 - y0 + 1];
  const scale = 20 / Math.max(bw, bh);
  const [sw, sh] = [Math.max(1, Math.round(bw * scale)), Math.max(1, Math.round(bh * scale))];
  const small = new OffscreenCanvas(sw, sh);
  const sctx = small.getContext('2d', { willReadFrequently: true })!;
  sctx.imageSmoothingEnabled = true;
  sctx.imageSmoothingQuality = 'high';
  sctx.drawImage(canvas, x0, y0, bw, bh, 0, 0, sw, sh);
  const sp = sctx.getImageData(0, 0, sw, sh).data;
  let [mass, mx, my] = [0, 0, 0];
  for (let y = 0; y < sh; y++)
    for (let x = 0; x < sw; x++) {
      const v = sp[(y * sw + x) * 4];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  const left = Math.round(Math.min(28 - sw, Math.max(0, 14 - (mass ? mx / mass : sw / 2))));
  const top = Math.round(Math.min(28 - sh, Math.max(0, 14 - (mass ? my / mass : sh / 2))));
  const out = new OffscreenCanvas(28, 28);
  const octx = out.getContext('2d')!;
  octx.fillStyle = 'black';
  octx.fillRect(0, 0, 28, 28);
  octx.drawImage(small, left, top);
  return out;
}

function classifyDrawing(canvas: HTMLCanvasElement): Promise<void> {
  return classifyImage(($('mnist') as HTMLInputElement).checked ? mnistFramed(canvas) : canvas);
}

function setUpDrawing(): void {
  const canvas = $('draw') as HTMLCanvasElement;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!; // read back by mnistFramed
  const clear = (): void => {
    ctx.fillStyle = 'black';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | null = null;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    ctx.strokeStyle = 'white';
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
  });
  const end = (): void => {
    if (!last) return;
    last = null;
    if (($('auto') as HTMLInputElement).checked && loaded) void guarded(() => classifyDrawing(canvas));
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('clear').addEventListener('click', clear);
  $('classify').addEventListener('click', () => void guarded(() => classifyDrawing(canvas)));
}

async function loadDefault(): Promise<void> {
  const res = await fetch('probe.safetensors');
  if (!res.ok) {
    const why = (await res.text()).trim();
    setStatus(why || `no probe file served (HTTP ${res.status}); choose one below`);
    return;
  }
  const name = res.headers.get('x-probe-path') ?? 'probe.safetensors';
  await loadProbe(await res.arrayBuffer(), name);
}

function main(): void {
  setUpDrawing();
  ($('probe-file') as HTMLInputElement).addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void guarded(async () => loadProbe(await file.arrayBuffer(), file.name));
  });
  ($('image') as HTMLInputElement).addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    void guarded(async () => {
      let bitmap: ImageBitmap;
      try {
        // EXIF orientation applied, an ICC profile ignored: what @aim/data (sharp, like PIL's convert('RGB')) does.
        bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none' });
      } catch {
        throw new Error(`${file.name}: the browser could not decode this image`);
      }
      await classifyImage(bitmap);
      bitmap.close();
    });
  });
  const ready = guarded(loadDefault);
  // Hooks for the browser tests (and the console).
  (window as unknown as { aimWeb: unknown }).aimWeb = {
    ready,
    loadProbe: (bytes: ArrayBuffer, name: string) => guarded(() => loadProbe(bytes, name)),
    classifyPatches: (patches: Float32Array, b: number) => serial(async () => Array.from((await classifyPatches(patches, b)).logits)),
    loadedName: () => loaded?.name ?? null,
    /** The eval transform on RGBA pixels (decoded through createImageBitmap, as a picture is). */
    transformRgba: async (rgba: number[], width: number, height: number, size: number, patch: number): Promise<number[]> => {
      const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(rgba), width, height));
      return Array.from(transformImage(bitmap, size, patch).patches);
    },
  };
}

main();
