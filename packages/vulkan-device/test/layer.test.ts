// The layer under the real Vulkan loader and Dawn, each case in a fresh Node process (a Vulkan instance reads the
// environment when it is created). Two drivers make two devices: SwiftShader, which Dawn accepts, and Mesa's lavapipe,
// which Dawn refuses, so the adapter Dawn returns shows which device the layer let through; two SwiftShader drivers
// stand for a machine of identical GPUs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { oneDeviceLayer, showOnlyVulkanDevice, shownVulkanDevice } from '../src/index.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json';
const layer = oneDeviceLayer();
const missing =
  'why' in layer
    ? layer.why
    : !existsSync(SWIFTSHADER)
      ? `no SwiftShader at ${SWIFTSHADER} (apt-get install chromium)`
      : !existsSync(LAVAPIPE)
        ? `no lavapipe at ${LAVAPIPE} (apt-get install mesa-vulkan-drivers)`
        : undefined;
if (missing && process.env.CI === 'true') throw new Error(`the Vulkan layer tests need: ${missing}`);

const DAWN = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
const SCRIPT =
  'const { create } = await import(process.env.TEST_DAWN);' +
  "const a = await create([]).requestAdapter({ powerPreference: 'high-performance' });" +
  "process.stdout.write(a ? a.info.architecture : 'none'); process.exit(0);";

/** The adapter Dawn returns with these drivers (its architecture, or 'none'), and what the layer reported. */
function adapterWith(drivers: string[], index?: number): { adapter: string; shown: ReturnType<typeof shownVulkanDevice> } {
  const env: NodeJS.ProcessEnv = { ...process.env, VK_DRIVER_FILES: drivers.join(':'), TEST_DAWN: DAWN };
  for (const k of ['VK_ADD_LAYER_PATH', 'VK_INSTANCE_LAYERS', 'AIM_VK_DEVICE_INDEX', 'AIM_VK_DEVICE_REPORT']) delete env[k];
  if (index !== undefined) showOnlyVulkanDevice(index, env);
  if (env.AIM_VK_DEVICE_REPORT) rmSync(env.AIM_VK_DEVICE_REPORT, { force: true }); // nothing left from an earlier case
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', SCRIPT], { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`adapter probe failed (${r.status}): ${r.stderr}`);
  return { adapter: r.stdout, shown: shownVulkanDevice(env) };
}

describe.skipIf(missing !== undefined)(`the one-device Vulkan layer${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('passes every device through when no index is set: Dawn takes SwiftShader, the one of the two it accepts', () => {
    expect(adapterWith([LAVAPIPE, SWIFTSHADER])).toEqual({ adapter: 'swiftshader', shown: undefined });
  });

  it('shows only device index mod count: the parity of the index alone decides between the two drivers', () => {
    const seen = [0, 1, 2, 3].map((i) => adapterWith([LAVAPIPE, SWIFTSHADER], i));
    expect(seen.map((s) => s.shown)).toEqual([0, 1, 0, 1].map((index) => ({ index, count: 2 })));
    expect(seen[2].adapter).toBe(seen[0].adapter);
    expect(seen[3].adapter).toBe(seen[1].adapter);
    // One index gives Dawn SwiftShader; the other leaves it lavapipe alone, which it refuses.
    expect([seen[0].adapter, seen[1].adapter].sort()).toEqual(['none', 'swiftshader']);
  });

  it('gives each index its own device among identical ones, and every index the one device of a one-GPU machine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aim-vk-'));
    const twin = join(dir, 'swiftshader-twin.json');
    // The same driver under a second manifest (its library by absolute path): a second, identical device.
    const manifest = JSON.parse(readFileSync(SWIFTSHADER, 'utf8'));
    manifest.ICD.library_path = join('/usr/lib/chromium', manifest.ICD.library_path);
    writeFileSync(twin, JSON.stringify(manifest));
    expect(adapterWith([SWIFTSHADER, twin], 0)).toEqual({ adapter: 'swiftshader', shown: { index: 0, count: 2 } });
    expect(adapterWith([SWIFTSHADER, twin], 1)).toEqual({ adapter: 'swiftshader', shown: { index: 1, count: 2 } });
    expect(adapterWith([SWIFTSHADER], 5)).toEqual({ adapter: 'swiftshader', shown: { index: 0, count: 1 } });
  });

  it('refuses an index that is not a count', () => {
    expect(() => showOnlyVulkanDevice(-1, {})).toThrow('showOnlyVulkanDevice: the index must be an integer >= 0, got -1');
    expect(() => showOnlyVulkanDevice(1.5, {})).toThrow(/got 1.5$/);
  });
});
