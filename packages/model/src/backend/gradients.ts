// Makes sure tfjs-core's gradient functions are registered, whatever loaded us (plain Node, tsx, vitest, a bundle).
//
// Why this is needed: `@tensorflow/tfjs-core`'s Node entry (dist/tf-core.node.js) registers no gradients; they live in
// dist/register_all_gradients.js, an ES module tree written with extensionless and directory imports that Node's ESM
// loader refuses. Bundlers and vitest resolve those imports; plain Node needs a small resolve hook scoped to that
// folder. The gradient registry is a process-wide global (getGlobal('gradRegistry')), so registering through the
// ESM tree serves the CommonJS instance our code imports as well.
import * as tf from '@tensorflow/tfjs-core';
import { register } from 'node:module';

const GRADIENTS_MODULE = '@tensorflow/tfjs-core/dist/register_all_gradients.js';

/** Kernels whose gradients the model needs; one missing means the registration did not happen. */
const PROBE_KERNELS = ['BatchMatMul', 'Erf', 'Softmax', 'Sum', 'Reshape', 'Transpose'] as const;

// Resolves `./x` to `./x.js` or `./x/index.js`, only for imports made from inside tfjs-core's dist/ folder and only
// after the default resolver has failed, so no other module's resolution can change.
const RESOLVE_HOOK = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const parent = context.parentURL ?? '';
    if (!specifier.startsWith('.') || !parent.includes('/@tensorflow/tfjs-core/dist/')) throw err;
    for (const suffix of ['.js', '/index.js']) {
      try { return await next(specifier + suffix, context); } catch {}
    }
    throw err;
  }
}`;

let pending: Promise<void> | undefined;

export function gradientsRegistered(): boolean {
  return PROBE_KERNELS.every((kernel) => tf.getGradient(kernel) != null);
}

/** Registers every tfjs-core gradient once per process; resolves when `tf.grad` works for the model's ops. */
export function ensureGradientsRegistered(): Promise<void> {
  if (gradientsRegistered()) return Promise.resolve();
  pending ??= registerGradients().finally(() => {
    pending = undefined;
  });
  return pending;
}

async function registerGradients(): Promise<void> {
  // The hook must be in place before the first attempt: Node caches a failed link for every module of the tree.
  // Harmless where a bundler or vitest resolves the tree itself (the hook only acts after a failed resolution).
  register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`);
  try {
    // A literal specifier, so that bundlers include the gradients.
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  } catch (err) {
    throw new Error(`tfjs gradients could not be registered: importing ${GRADIENTS_MODULE} failed: ${String(err)}`);
  }
  const missing = PROBE_KERNELS.filter((kernel) => tf.getGradient(kernel) == null);
  if (missing.length > 0) {
    throw new Error(`tfjs gradients are not registered after importing ${GRADIENTS_MODULE} (missing: ${missing.join(', ')})`);
  }
}
