// Progress output shared by the tools: on stderr, one line redrawn in place on a terminal, plain lines elsewhere.

export interface StatusStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** A live status line that messages can be printed above without losing it. */
export class StatusLine {
  private live = false;
  constructor(readonly stream: StatusStream = process.stderr) {}

  get isTty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** On a terminal redraws the line; elsewhere prints `text` as its own line when `print` is true (throttling is the caller's). */
  update(text: string, print = true): void {
    if (this.isTty) {
      this.stream.write(`\r\x1b[2K${text}`);
      this.live = true;
    } else if (print) {
      this.stream.write(text + '\n');
    }
  }

  /** Prints a message on its own line; the live line is redrawn by the next update. */
  log(message: string): void {
    if (this.live) this.stream.write('\r\x1b[2K');
    this.stream.write(message + '\n');
    this.live = false;
  }

  /** Leaves the last live line on screen and moves below it. */
  end(): void {
    if (this.live) this.stream.write('\n');
    this.live = false;
  }
}
