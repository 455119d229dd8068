// Images per second and time to go over the most recent steps: a moving window, so the rate follows the run's
// current speed rather than its whole history (start-up, earlier slow phases).

export class ThroughputWindow {
  private readonly recent: Array<{ seconds: number; images: number }> = [];

  constructor(private readonly size = 20) {}

  /** Records one step; returns the window's images/s and the seconds left for `stepsLeft` steps at its pace. */
  add(seconds: number, images: number, stepsLeft: number): { imagesPerSecond: number; etaSeconds: number } {
    this.recent.push({ seconds, images });
    if (this.recent.length > this.size) this.recent.shift();
    const windowSeconds = this.recent.reduce((a, r) => a + r.seconds, 0);
    const imagesPerSecond = this.recent.reduce((a, r) => a + r.images, 0) / windowSeconds;
    const etaSeconds = (windowSeconds / this.recent.length) * stepsLeft;
    return { imagesPerSecond, etaSeconds };
  }
}
