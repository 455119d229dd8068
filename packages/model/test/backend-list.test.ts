// test/backends.ts: webgpu is under test when an adapter exists; with none, CI=true fails and elsewhere it is skipped.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../src/index.js';

const run = promisify(execFile);
const packageDir = new URL('..', import.meta.url).pathname;
const listScript = "const m = await import('./test/backends.ts'); console.log('LIST', m.backendsUnderTest.map((b) => b.name).join(','));";

/** Imports test/backends.ts in a fresh Node with the given Vulkan driver (none usable by default); returns its exit status and output. */
async function listBackends(ci: string, vkDriverFiles = '/nonexistent/vulkan_icd.json'): Promise<{ code: number; out: string }> {
  const env = { ...process.env, CI: ci, VK_DRIVER_FILES: vkDriverFiles };
  try {
    const r = await run(process.execPath, ['--conditions=@aim/source', '--import', 'tsx', '--input-type=module', '-e', listScript], {
      cwd: packageDir,
      env,
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('backends under test', () => {
  it.runIf(existsSync(SWIFTSHADER_ICD))('includes webgpu when an adapter exists (SwiftShader here)', async () => {
    const { code, out } = await listBackends('true', SWIFTSHADER_ICD);
    expect(code).toBe(0);
    expect(out).toContain('LIST cpu,wasm,webgpu');
  });

  it('skips webgpu with a message when there is no adapter outside CI', async () => {
    const { code, out } = await listBackends('false');
    expect(code).toBe(0);
    expect(out).toContain('LIST cpu,wasm');
    expect(out).not.toContain('LIST cpu,wasm,webgpu');
    expect(out).toMatch(/webgpu backend not tested: .*VK_DRIVER_FILES=\/nonexistent\/vulkan_icd.json gave none; skipping/);
  });

  it('fails when CI=true and there is no adapter', async () => {
    const { code, out } = await listBackends('true');
    expect(code).not.toBe(0);
    expect(out).toContain('CI=true requires a WebGPU adapter');
  });
});
