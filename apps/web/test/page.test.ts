// The page in real headless Chromium (playwright-core, the system's chromium, WebGPU on SwiftShader): golden logits
// through the WebGPU trunk and the TypeScript probe, a drawing gives a top-5 and a non-blank heat map, a malformed
// file gives a readable error and the page keeps working, and the no-probe message names the commands.
// Without chromium the tests skip with a message; under CI=true they fail.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingSystemDependency } from '../../../vitest.shared.js';
import { NO_PROBE_MESSAGE, startServer } from '../scripts/serve.mjs';
import { IMAGENET_MEAN, IMAGENET_STD, evalResizePlan, normalizedPatches, resizeBicubic } from '@aim/data';
import { parseSafetensors } from '../src/safetensors.js';

const CHROMIUM = process.env.AIM_CHROMIUM ?? '/usr/bin/chromium';
/** Flags under which Debian's chromium exposes navigator.gpu on SwiftShader (no GPU needed). */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-angle=swiftshader', '--enable-features=Vulkan', '--use-vulkan=swiftshader'];
const CHROMIUM_ARGS = ['--no-sandbox', ...WEBGPU_ARGS, '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const webRoot = fileURLToPath(new URL('..', import.meta.url));
const golden = fileURLToPath(new URL('../../../fixtures/golden/', import.meta.url));
const weights = join(golden, 'aim-golden-small.weights.safetensors');

const missing = missingSystemDependency(`chromium (${CHROMIUM})`, 'chromium', existsSync(CHROMIUM));

interface AimWebHooks {
  ready: Promise<void>;
  classifyPatches(patches: Float32Array, b: number): Promise<number[]>;
  loadedName(): string | null;
  transformRgba(rgba: number[], width: number, height: number, size: number, patch: number): Promise<number[]>;
}

/** A fresh profile and page at `url`; `withoutWebGpu` replaces the WebGPU flags (e.g. to turn it off). */
async function openPage(url: string, withoutWebGpu?: string[]): Promise<{ context: BrowserContext; page: Page; profile: string; logs: string[] }> {
  const profile = mkdtempSync(join(tmpdir(), 'aim-web-profile-'));
  const args = withoutWebGpu ? [...CHROMIUM_ARGS.filter((a) => !WEBGPU_ARGS.includes(a)), ...withoutWebGpu] : CHROMIUM_ARGS;
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args });
  const page = await context.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.evaluate(() => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.ready);
  return { context, page, profile, logs };
}

/** Feeds the fixture's patches to the page; the largest absolute difference from the fixture's logits. */
async function goldenLogitError(page: Page, label: string): Promise<number> {
  const io = parseSafetensors(new Uint8Array(readFileSync(join(golden, 'aim-golden-small.io.safetensors'))).buffer, 'io');
  const patches = io.float32('patches');
  const want = io.float32('logits');
  const [b] = io.tensors.get('patches')!.shape;
  const got = await page.evaluate(([p, n]) => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.classifyPatches(new Float32Array(p), n), [
    Array.from(patches),
    b,
  ] as const);
  expect(got).toHaveLength(want.length);
  const worst = Math.max(...got.map((x, i) => Math.abs(x - want[i])));
  console.log(`[web] ${label}: page logits vs golden, max abs difference ${worst.toExponential(2)} over ${want.length} logits`);
  return worst;
}

describe.skipIf(missing)('the page in headless Chromium (WebGPU on SwiftShader)', () => {
  let closeServer: () => void = () => {};
  let opened: Awaited<ReturnType<typeof openPage>> | undefined;
  let pageUrl = '';

  beforeAll(async () => {
    execFileSync(process.execPath, [join(webRoot, 'scripts/build.mjs')], { stdio: 'inherit' });
    const { server, url } = await startServer({ port: 0, probe: weights, root: webRoot });
    closeServer = () => server.close();
    pageUrl = url;
    opened = await openPage(url);
  }, 300_000);

  afterAll(async () => {
    await opened?.context.close();
    if (opened) rmSync(opened.profile, { recursive: true, force: true });
    closeServer();
  });

  it('loads the golden trunk + probe and says it runs the trunk on WebGPU', async () => {
    const { page, logs } = opened!;
    expect(await page.locator('#error').isHidden(), logs.join('\n')).toBe(true);
    expect(await page.textContent('#status')).toContain('width 64, 3 blocks; probe over blocks 1, 2, 10 classes');
    expect(await page.textContent('#compute')).toMatch(/trunk: WebGPU \(@aim\/gpu WGSL engine\) on .*swiftshader/);
  });

  it("matches the fixture's logits within 1e-4 on the fixture's patches", async () => {
    expect(await goldenLogitError(opened!.page, 'webgpu')).toBeLessThan(1e-4);
  }, 120_000);

  for (const [mode, label] of [
    ['wasm', 'trunk: tfjs-backend-wasm (@aim/model tfjs trunk) (no WebGPU: asked for ?compute=wasm); attentive probe: TypeScript on the CPU'],
    ['cpu', 'trunk: TypeScript on the CPU (no WebGPU: asked for ?compute=cpu; no wasm: asked for ?compute=cpu); attentive probe: TypeScript on the CPU'],
  ] as const) {
    it(`the ${mode} fallback (?compute=${mode}) gives the same logits and says so`, async () => {
      const other = await openPage(`${pageUrl}?compute=${mode}`);
      try {
        expect(await other.page.locator('#error').isHidden(), other.logs.join('\n')).toBe(true);
        expect(await other.page.textContent('#compute')).toBe(label);
        expect(await goldenLogitError(other.page, mode)).toBeLessThan(1e-4);
      } finally {
        await other.context.close();
        rmSync(other.profile, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it('without WebGPU in the browser (no --enable-unsafe-webgpu), it falls back to wasm on its own', async () => {
    const other = await openPage(pageUrl, ['--disable-webgpu']);
    try {
      const compute = await other.page.textContent('#compute');
      console.log(`[web] chromium --disable-webgpu: ${compute}`);
      expect(compute).toMatch(/^trunk: tfjs-backend-wasm \(@aim\/model tfjs trunk\) \(no WebGPU: .+\); attentive probe/);
      expect(await goldenLogitError(other.page, 'wasm (auto)')).toBeLessThan(1e-4);
    } finally {
      await other.context.close();
      rmSync(other.profile, { recursive: true, force: true });
    }
  }, 120_000);

  it('classifies a drawn digit: top-5 text and a non-blank heat map', async () => {
    const { page } = opened!;
    const box = (await page.locator('#draw').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 8 });
    await page.mouse.up();
    await page.locator('#top5 li').nth(4).waitFor({ timeout: 60_000 });
    const items = await page.locator('#top5 li').allTextContents();
    expect(items).toHaveLength(5);
    for (const t of items) expect(t).toMatch(/^class \d+: \d+\.\d%$/);
    const shot = await page.locator('#heatmap').screenshot();
    const out = join(tmpdir(), 'aim-web-heatmap.png');
    writeFileSync(out, shot);
    console.log(`[web] heat map screenshot: ${out} (${shot.length} bytes)`);
    const colours = await page.evaluate(() => {
      const c = document.getElementById('heatmap') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    });
    expect(colours).toBeGreaterThan(4);
    expect(await page.textContent('#heat-range')).toMatch(/^attention per patch \(mean over 4 heads\): /);
    // The second view: one bar per trunk block with its mean feature norm, the probe's blocks marked.
    const bars = await page.locator('#norms .bar').allTextContents();
    expect(bars).toHaveLength(3);
    bars.forEach((t, i) => expect(t).toMatch(new RegExp(`^block ${i}${i >= 1 ? ' \\(probe\\)' : ''}: \\d+\\.\\d{2}$`)));
    expect(await page.locator('#norms .bar span.probe').count()).toBe(2);
    expect(await page.locator('#error').isHidden()).toBe(true);
  }, 120_000);

  it('classifies a picture chosen with the file input; an undecodable one gives a readable error', async () => {
    const { page } = opened!;
    const picture = await page.locator('#draw').screenshot();
    await page.locator('#timing').evaluate((el) => (el.textContent = ''));
    await page.locator('#image').setInputFiles({ name: 'digit.png', mimeType: 'image/png', buffer: picture });
    await page.waitForFunction(() => document.getElementById('timing')!.textContent !== '');
    expect(await page.locator('#top5 li').count()).toBe(5);
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.locator('#image').setInputFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.textContent('#error')).toBe('notes.png: the browser could not decode this image');
  }, 120_000);

  it('runs the eval transform: shorter side to floor(size / 0.875), centre crop, ImageNet normalisation', async () => {
    const { page } = opened!;
    // 64 x 48 image: left half (x < 32) one colour, right half another. Resized to 48 x 36 (shorter side 36 for
    // size 32), the centre crop starts at x = 8, so the crop's left and right columns of patches are pure colours.
    const [w, h] = [64, 48];
    const a = [200, 30, 90];
    const b = [10, 120, 250];
    const rgba: number[] = [];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.push(...(x < 32 ? a : b), 255);
    const patches = await page.evaluate(([px, ww, hh]) => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.transformRgba(px, ww, hh, 32, 8), [
      rgba,
      w,
      h,
    ] as const);
    expect(patches).toHaveLength(16 * 8 * 8 * 3);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const norm = (c: number[], ch: number): number => (c[ch] / 255 - mean[ch]) / std[ch];
    const pd = 8 * 8 * 3;
    for (let row = 0; row < 4; row++) {
      for (let i = 0; i < pd; i++) {
        expect(patches[row * 4 * pd + i]).toBeCloseTo(norm(a, i % 3), 5); // column 0
        expect(patches[(row * 4 + 3) * pd + i]).toBeCloseTo(norm(b, i % 3), 5); // column 3
      }
    }
  }, 120_000);

  it("gives @aim/data's eval transform (Pillow bicubic) on the same pixels", async () => {
    const { page } = opened!;
    // A gray 28 x 28 "digit" (MNIST's size: upscaled to 36, cropped to 32) and a 300 x 200 colour picture (downscaled).
    const cases: { name: string; w: number; h: number; px: (x: number, y: number) => [number, number, number] }[] = [
      {
        name: '28x28 gray digit',
        w: 28,
        h: 28,
        px: (x, y) => {
          const v = Math.max(0, 255 - 40 * Math.abs(Math.hypot(x - 14, y - 14) - 7));
          return [v, v, v];
        },
      },
      { name: '300x200 colour', w: 300, h: 200, px: (x, y) => [(x * 7 + y * 3) % 256, 128 + 100 * Math.sin(x / 9) * Math.cos(y / 13), (x * y) % 251] },
    ];
    for (const c of cases) {
      const rgb = new Uint8Array(c.w * c.h * 3);
      const rgba: number[] = [];
      for (let y = 0; y < c.h; y++)
        for (let x = 0; x < c.w; x++) {
          const p = c.px(x, y).map((v) => Math.round(Math.min(255, Math.max(0, v))));
          rgb.set(p, (y * c.w + x) * 3);
          rgba.push(...p, 255);
        }
      const plan = evalResizePlan(c.w, c.h, 32);
      const crop = resizeBicubic({ data: rgb, width: c.w, height: c.h, channels: 3 }, plan.resizeWidth, plan.resizeHeight, {
        left: plan.left,
        top: plan.top,
        width: 32,
        height: 32,
      });
      const want = normalizedPatches(crop, 8, IMAGENET_MEAN, IMAGENET_STD);
      const got = await page.evaluate(([px, ww, hh]) => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.transformRgba(px, ww, hh, 32, 8), [
        rgba,
        c.w,
        c.h,
      ] as const);
      // Differences in 8-bit levels (undo the normalisation's std; channel = index % 3 in the patch layout).
      const levels = got.map((g, i) => Math.abs(g - want[i]) * IMAGENET_STD[i % 3] * 255);
      const max = Math.max(...levels);
      const mean = levels.reduce((a, x) => a + x, 0) / levels.length;
      console.log(`[web] eval transform, ${c.name}: page vs @aim/data: mean ${mean.toExponential(1)}, max ${max.toExponential(1)} of 255 levels`);
      expect(max).toBeLessThan(1e-3); // float32 rounding of the normalisation only
    }
  }, 120_000);

  it('classifications started together run one after another with the same results', async () => {
    const io = parseSafetensors(new Uint8Array(readFileSync(join(golden, 'aim-golden-small.io.safetensors'))).buffer, 'io');
    const patches = Array.from(io.float32('patches'));
    const results = await opened!.page.evaluate(
      (p) => Promise.all([1, 2, 3].map(() => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.classifyPatches(new Float32Array(p), 4))),
      patches,
    );
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  }, 120_000);

  it('an empty drawing says so; without MNIST framing the raw canvas is classified', async () => {
    const { page } = opened!;
    await page.click('#clear');
    await page.click('#classify');
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.textContent('#error')).toBe('the canvas is empty: draw a digit first');
    const box = (await page.locator('#draw').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.7, { steps: 8 });
    await page.mouse.up();
    await page.waitForFunction(() => document.getElementById('error')!.hidden);
    await page.locator('#mnist').uncheck();
    await page.locator('#timing').evaluate((el) => (el.textContent = ''));
    await page.click('#classify');
    await page.waitForFunction(() => document.getElementById('timing')!.textContent !== '');
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.locator('#mnist').check();
  }, 120_000);

  it('a malformed probe file gives a readable error and the page keeps working', async () => {
    const { page } = opened!;
    await page
      .locator('#probe-file')
      .setInputFiles({ name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('this is not a safetensors file') });
    await page.locator('#error').waitFor({ state: 'visible' });
    expect(await page.textContent('#error')).toMatch(/^broken\.safetensors: not a valid safetensors file: header length \d+ does not fit/);
    const truncated = readFileSync(weights).subarray(0, 4000);
    await page.locator('#probe-file').setInputFiles({ name: 'cut.safetensors', mimeType: 'application/octet-stream', buffer: truncated });
    await page.waitForFunction(() => document.getElementById('error')!.textContent!.startsWith('cut.safetensors'));
    expect(await page.textContent('#error')).toMatch(/cut\.safetensors: .*outside/);
    // Still the golden model, and it still classifies.
    expect(await page.evaluate(() => (window as unknown as { aimWeb: AimWebHooks }).aimWeb.loadedName())).toContain('aim-golden-small');
    await page.click('#classify');
    await page.waitForFunction(() => document.getElementById('error')!.hidden);
    expect(await page.locator('#top5 li').count()).toBe(5);
  }, 120_000);

  it('without a probe file, the page names the commands that make one', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'aim-web-empty-'));
    const { server, url } = await startServer({ port: 0, root: empty });
    try {
      const { context, page, profile } = await openPage(url);
      try {
        expect(await page.textContent('#status')).toBe(NO_PROBE_MESSAGE);
        expect(NO_PROBE_MESSAGE).toContain('npx nx run trainer:train');
        expect(NO_PROBE_MESSAGE).toContain('npx nx run eval:probe');
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    } finally {
      server.close();
      rmSync(empty, { recursive: true, force: true });
    }
  }, 120_000);
});
