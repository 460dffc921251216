// Transfer rate and time left over a sliding window of (time, bytes) samples, so a stall shows as a falling rate.
export class ProgressMeter {
  private readonly samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5000, private readonly now: () => number = () => performance.now()) {}

  /** Record the running byte count; returns the rate in bytes/s (null until two samples span 200 ms). */
  update(bytes: number): number | null {
    const t = this.now();
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[1]!.t > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = t - first.t;
    return dt >= 200 ? ((bytes - first.bytes) * 1000) / dt : null;
  }

  /** Seconds left for `remaining` bytes at `rate` (null when unknown or stalled). */
  static eta(remaining: number, rate: number | null): number | null {
    return rate !== null && rate > 0 ? remaining / rate : remaining <= 0 ? 0 : null;
  }
}
