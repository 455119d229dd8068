// What selectBackend prints on its own: nothing. Dawn's native Vulkan warnings (with paths from Dawn's build machine)
// and tfjs-backend-cpu's "install our node backend" banner never reach the user; the skip reasons say it instead.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = new URL('..', import.meta.url).pathname;

async function runScript(script: string, env: Record<string, string>): Promise<string> {
  const r = await run(process.execPath, ['--conditions=@aim/source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: packageDir,
    env: { ...process.env, ...env },
  });
  return r.stdout + r.stderr;
}

describe('backend selection output', () => {
  it('auto without a Vulkan driver: no Dawn warning, the webgpu skip reason instead', async () => {
    const out = await runScript(
      "const { selectBackend } = await import('./src/index.ts');" +
        "const s = await selectBackend('auto');" +
        "console.log('CHOSE', s.name); for (const k of s.skipped) console.log('SKIPPED', k.name, k.why);",
      { VK_DRIVER_FILES: '/nonexistent/vulkan_icd.json' },
    );
    expect(out).toMatch(/CHOSE (wasm|tensorflow)/);
    if (!out.includes('CHOSE tensorflow')) expect(out).toMatch(/SKIPPED webgpu no WebGPU adapter/);
    expect(out).not.toContain('Warning:');
    expect(out).not.toContain('CheckVkSuccessImpl');
    expect(out).not.toMatch(/\/home\/runner|third_party\/dawn/);
  }, 60_000);

  it('cpu: no tfjs "install our node backend" banner', async () => {
    const out = await runScript(
      "const { selectBackend } = await import('./src/index.ts');" +
        "const tf = await import('@tensorflow/tfjs-core');" +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the child script's own template literal
        "const s = await selectBackend('cpu'); const t = tf.add(tf.ones([3]), 1); console.log(`SUM ${(await t.data())[0]} ${s.name}`);",
      {},
    );
    expect(out).toContain('SUM 2 cpu');
    expect(out).not.toContain('looks like you are running TensorFlow.js in Node.js');
    expect(out).not.toContain('============');
  }, 60_000);
});
