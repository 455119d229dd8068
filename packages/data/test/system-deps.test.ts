// The rule for tests that need system packages (here: the Pillow parity tests): skipped with a message naming the
// Debian packages to install, except under CI=true, where a missing one fails the run.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commandSucceeds, missingSystemDependency } from '../../../vitest.shared.js';

const ci = process.env.CI;
afterEach(() => {
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
  vi.restoreAllMocks();
});

describe('missingSystemDependency', () => {
  it('present: nothing to skip, nothing printed', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(missingSystemDependency('Python 3 with Pillow and NumPy', 'python3-pil python3-numpy', true)).toBe(false);
    expect(warn).not.toHaveBeenCalled();
  });

  it('absent outside CI: skip, saying which Debian packages to install', () => {
    delete process.env.CI;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(missingSystemDependency('Python 3 with Pillow and NumPy', 'python3 python3-pil python3-numpy', false)).toBe(true);
    expect(warn).toHaveBeenCalledWith('[tests] skipped: Python 3 with Pillow and NumPy not found: apt-get install python3 python3-pil python3-numpy');
  });

  it('absent under CI=true: fail', () => {
    process.env.CI = 'true';
    expect(() => missingSystemDependency('GNU tar', 'tar', false)).toThrow('GNU tar not found: apt-get install tar (CI=true runs every test)');
  });

  it('commandSucceeds runs a command and reports whether it exited 0', () => {
    expect(commandSucceeds(process.execPath, ['-e', 'process.exit(0)'])).toBe(true);
    expect(commandSucceeds(process.execPath, ['-e', 'process.exit(3)'])).toBe(false);
    expect(commandSucceeds('/nonexistent/program', [])).toBe(false);
  });
});
