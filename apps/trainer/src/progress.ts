// What the user sees while training: a live progress line on a terminal, plain lines otherwise, and the summary.
import { StatusLine, type StatusStream } from '@aim/cli';

export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
};

export interface ProgressFields {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly lr: number;
  readonly imagesPerSecond: number;
  readonly etaSeconds: number;
  readonly valLoss?: number;
}

export function formatProgress(p: ProgressFields): string {
  const width = String(p.totalSteps).length;
  return [
    `step ${String(p.step).padStart(width)}/${p.totalSteps}`,
    `loss ${p.loss.toFixed(4)}`,
    ...(p.valLoss !== undefined ? [`val ${p.valLoss.toFixed(4)}`] : []),
    `lr ${p.lr.toExponential(2)}`,
    `${p.imagesPerSecond.toFixed(1)} img/s`,
    `ETA ${formatDuration(p.etaSeconds)}`,
  ].join(' | ');
}

/** The step line: redrawn in place on a TTY (stderr, via @aim/cli's StatusLine); on a pipe every `every`-th step as its own line. */
export class ProgressLine {
  private readonly line: StatusLine;
  constructor(
    stream: StatusStream,
    public every: number,
  ) {
    this.line = new StatusLine(stream);
  }

  get isTty(): boolean {
    return this.line.isTty;
  }

  update(p: ProgressFields): void {
    this.line.update(formatProgress(p), p.step % this.every === 0 || p.step === p.totalSteps);
  }

  /** Prints a message on its own line without losing the live line. */
  log(message: string): void {
    this.line.log(message);
  }

  end(): void {
    this.line.end();
  }
}
