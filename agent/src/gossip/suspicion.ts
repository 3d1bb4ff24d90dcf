/**
 * Lifeguard suspicion (memberlist's suspicion.go). A suspected member is declared dead when its
 * suspicion timer runs out. The timer starts at `max` and shrinks toward `min` as independent members
 * confirm the suspicion: one prober's bad link then costs little, while a really dead member is
 * declared quickly once several members agree.
 */
import type { Clock, TimerHandle } from '../core/clock';

/**
 * The minimum suspicion timeout in ms: suspicionMult x log10(n + 1) x probeIntervalMs, where n is the
 * number of alive members (Lifeguard's formula; memberlist additionally floors the log at 1, which
 * only matters below 9 members).
 */
export function suspicionTimeoutMs(suspicionMult: number, n: number, probeIntervalMs: number): number {
  const nodeScale = Math.log10(Math.max(1, n + 1));
  // Rounded to the millisecond so timers stay integral.
  return Math.round(suspicionMult * nodeScale * probeIntervalMs);
}

/**
 * Time left before a suspicion expires, in ms (may be negative: expire now). With c confirmations out
 * of k expected, the timeout is max - (max - min) x log(c + 1) / log(k + 1), floored at min; the
 * elapsed time since the suspicion started is subtracted.
 */
export function remainingSuspicionTimeMs(c: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = k > 0 ? Math.log(c + 1) / Math.log(k + 1) : 1;
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

/** One member's suspicion: a timer that accelerates with each independent confirmation. */
export class Suspicion {
  private readonly confirmations = new Set<string>();
  private readonly startMs: number;
  private timer: TimerHandle | undefined;
  private fired = false;

  /**
   * @param from the member that raised the suspicion (never counted again as a confirmation)
   * @param k confirmations expected before the timeout reaches `minMs` (0: start at min)
   * @param onTimeout called once when the suspicion expires, with the confirmation count
   */
  constructor(
    private readonly clock: Clock,
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    this.startMs = clock.now();
    this.confirmations.add(from);
    const timeout = k < 1 ? minMs : maxMs;
    this.timer = clock.setTimer(timeout, () => this.fire());
  }

  /**
   * Records a confirmation from `from`. Returns true when it was new and counted (the caller then
   * re-gossips it so others can count it too); false for duplicates and once k were counted.
   */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations.size - 1 >= this.k || this.confirmations.has(from)) return false;
    this.confirmations.add(from);
    const elapsed = this.clock.now() - this.startMs;
    const remaining = remainingSuspicionTimeMs(this.confirmations.size - 1, this.k, elapsed, this.minMs, this.maxMs);
    this.clock.clearTimer(this.timer);
    this.timer = remaining > 0 ? this.clock.setTimer(remaining, () => this.fire()) : undefined;
    if (remaining <= 0) this.fire();
    return true;
  }

  /** Independent confirmations so far (the originator excluded). */
  confirmationCount(): number {
    return this.confirmations.size - 1;
  }

  /** Stops the timer (the member refuted, or was declared dead some other way). */
  cancel(): void {
    this.fired = true;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.timer = undefined;
    this.onTimeout(this.confirmations.size - 1);
  }
}
