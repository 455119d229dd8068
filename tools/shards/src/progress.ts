// Progress reporting on stderr for long runs: a rewritten line on a terminal, an occasional line otherwise
// (@aim/cli's StatusLine, shared with the trainer).
import { StatusLine } from '@aim/cli';

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
  const status = new StatusLine(sink);
  let last = 0;
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
    status.update(line(done, total));
  }) as ProgressFn & { finish(summary?: string): void };
  progress.finish = (summary?: string) => {
    status.end();
    if (summary) status.log(`${label}: ${summary}`);
  };
  return progress;
}
