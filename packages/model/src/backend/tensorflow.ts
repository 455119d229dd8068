// The 'tensorflow' backend: @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (CPU), optional peers that are
// loaded only when installed (their install downloads libtensorflow, so this project never requires them).
import { createRequire } from 'node:module';

export const TENSORFLOW_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

export interface TensorflowLoad {
  /** The package that loaded, when one did. */
  loaded?: string;
  /** Why each package was not used. */
  failures: { pkg: string; why: string }[];
}

function isInstalled(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** Imports the first tfjs-node package that loads; its import registers the 'tensorflow' backend. */
export async function loadTensorflowBackend(): Promise<TensorflowLoad> {
  const failures: { pkg: string; why: string }[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    if (!isInstalled(pkg)) {
      failures.push({ pkg, why: `${pkg} is not installed (optional; \`npm install ${pkg}\` downloads libtensorflow)` });
      continue;
    }
    try {
      // A variable specifier: these packages are optional, absent from the type graph and from bundles.
      const specifier: string = pkg;
      await import(/* @vite-ignore */ specifier);
      return { loaded: pkg, failures };
    } catch (err) {
      failures.push({
        pkg,
        why: `${pkg} is installed but failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      });
    }
  }
  return { failures };
}
