// Progress reporting on stderr for long runs: a rewritten line on a terminal, an occasional line otherwise.

export type ProgressFn = (done: number, total?: number) => void;

export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** A throttled progress printer. Call it often; it prints at most every `intervalMs`. Call `finish()` at the end. */
export function createProgress(
  label: string,
  sink: ProgressSink = process.stderr,
  intervalMs = sink.isTTY ? 200 : 5000,
): ProgressFn & { finish(summary?: string): void } {
  const started = Date.now();
  let last = 0;
  let shown = false;
  const line = (done: number, total?: number) => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? ` ${Math.round(done / seconds)}/s` : '';
    const pct = total ? ` (${((100 * done) / total).toFixed(1)}%)` : '';
    return `${label}: ${done}${total ? `/${total}` : ''}${pct}${rate}`;
  };
  const progress = ((done: number, total?: number) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    shown = true;
    sink.write(sink.isTTY ? `\r${line(done, total)}\u001b[K` : `${line(done, total)}\n`);
  }) as ProgressFn & { finish(summary?: string): void };
  progress.finish = (summary?: string) => {
    if (shown && sink.isTTY) sink.write('\n');
    if (summary) sink.write(`${label}: ${summary}\n`);
  };
  return progress;
}
