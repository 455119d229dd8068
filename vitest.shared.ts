// One vitest config for every project: tests import sibling packages from their TypeScript sources
// (the "@aim/source" export condition), so no build is needed before a test run.
import { defineConfig, type ViteUserConfig } from 'vitest/config';

export function defineAimVitestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    resolve: { conditions: ['@aim/source', 'module', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@aim/source', 'module', 'node', 'import', 'default'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      ...overrides,
    },
  });
}
