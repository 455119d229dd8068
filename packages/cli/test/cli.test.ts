// The shared dialect: parsing, usage errors with the closest match, help, exit codes, one-line failures, status line.
import { describe, expect, it } from 'vitest';
import { StatusLine, UsageError, parseCommandLine, runCommand, type CommandDefinition, type CommandLineSpec } from '../src/index.js';

const spec: CommandLineSpec = {
  flags: {
    backend: { type: 'string', choices: ['auto', 'cpu', 'wasm'] },
    'cache-dir': { type: 'string' },
    resume: { type: 'string', bareValue: 'latest' },
    sweep: { type: 'boolean' },
  },
  positionals: true,
};

function sink(isTTY = false): { isTTY: boolean; text: string; write(t: string): void } {
  return {
    isTTY,
    text: '',
    write(t: string) {
      this.text += t;
    },
  };
}

async function run(def: Partial<CommandDefinition>, argv: string[]) {
  const io = { stdout: sink(), stderr: sink() };
  const code = await runCommand({ name: 'tool', usage: 'usage: tool [--flags]', spec, run: async () => 0, ...def }, argv, io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

describe('parseCommandLine', () => {
  it('reads --flag value, --flag=value (empty too), booleans, --no-x, bare values and positionals', () => {
    const cli = parseCommandLine(['a', '--backend', 'cpu', '--cache-dir=', '--no-sweep', '--resume', 'b', '--', '--c'], spec);
    expect(cli.values).toEqual({ backend: 'cpu', 'cache-dir': '', sweep: false, resume: 'b' });
    expect(cli.positionals).toEqual(['a', '--c']);
    expect(parseCommandLine(['--resume', '--sweep'], spec).values).toEqual({ resume: 'latest', sweep: true });
    expect(parseCommandLine(['--resume'], spec).values).toEqual({ resume: 'latest' });
  });

  it('names the flag, the valid choices and the closest match', () => {
    expect(() => parseCommandLine(['--bakend', 'cpu'], spec)).toThrow(
      /^unknown flag --bakend \(did you mean --backend\?\); valid flags: --backend --cache-dir/,
    );
    expect(() => parseCommandLine(['--backend', 'wsam'], spec)).toThrow("--backend: 'wsam' is not one of auto, cpu, wasm (did you mean 'wasm'?)");
    expect(() => parseCommandLine(['--backend'], spec)).toThrow('flag --backend needs a value: one of auto, cpu, wasm');
    expect(() => parseCommandLine(['--cache-dir', '--sweep'], spec)).toThrow('flag --cache-dir needs a value (got the flag --sweep)');
    expect(() => parseCommandLine(['--sweep=yes'], spec)).toThrow('flag --sweep takes no value');
    expect(() => parseCommandLine(['--sweep', '--no-sweep'], spec)).toThrow('contradict');
    expect(() => parseCommandLine(['--cache', 'c'], spec)).toThrow(/^unknown flag --cache \(did you mean --cache-dir\?\)/);
    expect(() => parseCommandLine(['--dir', 'c'], { ...spec, renamed: { dir: 'cache-dir' } })).toThrow(/^unknown flag --dir \(did you mean --cache-dir\?\)/);
    expect(() => parseCommandLine(['-x'], spec)).toThrow(UsageError);
    expect(() => parseCommandLine(['stray'], { flags: {} })).toThrow("unexpected argument 'stray'");
  });

  it('--help and -h win over every other mistake', () => {
    expect(parseCommandLine(['--bogus', '-h'], spec).help).toBe(true);
    expect(parseCommandLine(['--backend', 'gpu', '--help'], spec).help).toBe(true);
  });
});

describe('runCommand', () => {
  it('--help: usage on stdout, nothing on stderr, exit 0', async () => {
    const r = await run({}, ['--help']);
    expect(r).toEqual({ code: 0, stdout: 'usage: tool [--flags]\n', stderr: '' });
  });

  it('a usage error: one line on stderr, exit 2; a tool error class can count as one', async () => {
    const r = await run({}, ['--bakend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^tool: unknown flag --bakend \(did you mean --backend\?\)/);
    class ConfigError extends Error {}
    const c = await run(
      {
        usageErrors: [ConfigError],
        run: async () => {
          throw new ConfigError('bad\nconfig');
        },
      },
      [],
    );
    expect(c).toEqual({ code: 2, stdout: '', stderr: 'tool: bad; config (see --help)\n' });
  });

  it('a failure: one line with its cause, exit 1; the stack only with --verbose', async () => {
    const fail = async (): Promise<number> => {
      throw new Error('data loader: Error: cannot open shard /x.tar: no such file');
    };
    const r = await run({ run: fail }, []);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'tool: error: data loader: cannot open shard /x.tar: no such file\n' });
    const v = await run({ run: fail }, ['--verbose']);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('    at ');
  });

  it("returns the command's own status", async () => {
    expect((await run({ run: async () => 3 }, [])).code).toBe(3);
  });
});

describe('StatusLine', () => {
  it('redraws in place on a terminal and keeps messages above the live line', () => {
    const tty = sink(true);
    const line = new StatusLine(tty);
    line.update('step 1');
    line.update('step 2');
    line.log('checkpoint');
    line.update('step 3');
    line.end();
    expect(tty.text).toBe('\r\x1b[2Kstep 1\r\x1b[2Kstep 2\r\x1b[2Kcheckpoint\n\r\x1b[2Kstep 3\n');
  });

  it('prints plain lines, only the ones asked for, on a pipe', () => {
    const pipe = sink(false);
    const line = new StatusLine(pipe);
    line.update('step 1', false);
    line.update('step 2');
    line.log('done');
    line.end();
    expect(pipe.text).toBe('step 2\ndone\n');
  });
});
