// One GPU per process on a machine with several: the environment that loads this package's Vulkan layer
// (src/one-device-layer.c, built at install) into every Vulkan instance the process creates from then on, Dawn's
// included, so that the process sees only the physical device at a given index. WebGPU has no way to choose among
// identical GPUs, and Dawn's Node binding returns the first adapter it finds: without this, every MPI rank of a
// machine computes on the same GPU.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYER_NAME = 'VK_LAYER_AIM_one_device';

/** The folder holding the built layer and its manifest (the package's build/, from src/ or dist/ alike). */
const BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'build');

/** Where the built layer is, or why it is not there. */
export function oneDeviceLayer(): { readonly dir: string } | { readonly why: string } {
  if (process.platform !== 'linux') return { why: `the layer is for Linux's Vulkan loader (this is ${process.platform})` };
  if (!existsSync(join(BUILD_DIR, 'libVkLayer_aim_one_device.so')) || !existsSync(join(BUILD_DIR, 'VkLayer_aim_one_device.json'))) {
    return { why: `the layer was not built (${BUILD_DIR} is missing it): apt-get install gcc, then npm rebuild @aim/vulkan-device` };
  }
  return { dir: BUILD_DIR };
}

const appendList = (list: string | undefined, item: string, sep: string): string =>
  list === undefined || list === '' ? item : list.split(sep).includes(item) ? list : `${list}${sep}${item}`;

/**
 * From now on, Vulkan instances of this process (and of the processes it starts) see only physical device `index`
 * modulo the count the driver lists; where that device's choice is recorded, `shownVulkanDevice` reads it. Call it
 * before the first WebGPU adapter is requested: an instance created before keeps seeing every device. Throws, saying
 * why, when the layer was not built.
 */
export function showOnlyVulkanDevice(index: number, env: NodeJS.ProcessEnv = process.env): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`showOnlyVulkanDevice: the index must be an integer >= 0, got ${index}`);
  const layer = oneDeviceLayer();
  if ('why' in layer) throw new Error(`cannot show this process one Vulkan device: ${layer.why}`);
  // VK_ADD_LAYER_PATH (Vulkan loader >= 1.3.2xx) adds to the search path instead of replacing it, as VK_LAYER_PATH would.
  env.VK_ADD_LAYER_PATH = appendList(env.VK_ADD_LAYER_PATH, layer.dir, ':');
  env.VK_INSTANCE_LAYERS = appendList(env.VK_INSTANCE_LAYERS, LAYER_NAME, ':');
  env.AIM_VK_DEVICE_INDEX = String(index);
  env.AIM_VK_DEVICE_REPORT = REPORT;
  if (!reportRemovedAtExit) process.once('exit', () => rmSync(REPORT, { force: true }));
  reportRemovedAtExit = true;
}

const REPORT = join(tmpdir(), `aim-vulkan-device-${process.pid}.txt`);
let reportRemovedAtExit = false;

/**
 * The device the layer showed this process the last time it listed devices ({index, count}: device `index` of the
 * `count` the driver listed), or undefined when it has not (not asked for, or the Vulkan loader did not load it).
 */
export function shownVulkanDevice(env: NodeJS.ProcessEnv = process.env): { readonly index: number; readonly count: number } | undefined {
  const file = env.AIM_VK_DEVICE_REPORT;
  if (!file || !existsSync(file)) return undefined;
  const m = /^(\d+) (\d+)\n?$/.exec(readFileSync(file, 'utf8'));
  return m ? { index: Number(m[1]), count: Number(m[2]) } : undefined;
}
