// What the user sees while training: a live progress line on a terminal, plain lines otherwise, and the summary.

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

/** Rewrites one line on a TTY; on a pipe prints every `every`-th update as its own line. */
export class ProgressLine {
  private live = false;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    public every: number,
  ) {}

  get isTty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(p: ProgressFields): void {
    const text = formatProgress(p);
    if (this.isTty) {
      this.stream.write(`\r\x1b[2K${text}`);
      this.live = true;
    } else if (p.step % this.every === 0 || p.step === p.totalSteps) {
      this.stream.write(text + '\n');
    }
  }

  /** Prints a message on its own line without losing the live line. */
  log(message: string): void {
    if (this.live) this.stream.write('\r\x1b[2K');
    this.stream.write(message + '\n');
    this.live = false;
  }

  end(): void {
    if (this.live) this.stream.write('\n');
    this.live = false;
  }
}
