// One vitest config for every project: tests import sibling packages from their TypeScript sources
// (the "@aim/source" export condition), so no build is needed before a test run. Also the check tests use for
// system dependencies.
import { spawnSync } from 'node:child_process';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const workspaceRoot = fileURLToPath(new URL('.', import.meta.url));

/**
 * Where a project's run leaves its results as JSON, one file per project (e.g. .test-results/packages-data.json):
 * `npm test` runs every project in parallel and prints their output interleaved, so after a failure
 * tools/run-tests.mjs gathers the failed tests from these files and prints them last, where a log's tail shows them.
 */
const resultsFile = (): string => `${workspaceRoot}.test-results/${relative(workspaceRoot, process.cwd()).replaceAll('/', '-') || 'root'}.json`;

export function defineAimVitestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    resolve: { conditions: ['@aim/source', 'module', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['@aim/source', 'module', 'node', 'import', 'default'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      reporters: ['default', ['json', { outputFile: resultsFile() }]],
      ...overrides,
    },
  });
}

/**
 * For tests that need a program or library from the operating system (python3 with Pillow and NumPy, GNU tar).
 * Present: returns false. Absent: under CI=true it throws (CI must run every test); elsewhere it prints why and which
 * Debian packages to install, and returns true, so the caller skips (`describe.skipIf(missing(...))`).
 */
export function missingSystemDependency(what: string, debianPackages: string, present: boolean): boolean {
  if (present) return false;
  const why = `${what} not found: apt-get install ${debianPackages}`;
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true runs every test)`);
  console.warn(`[tests] skipped: ${why}`);
  return true;
}

/** Whether `command args...` runs and exits 0 (output ignored). */
export function commandSucceeds(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}
