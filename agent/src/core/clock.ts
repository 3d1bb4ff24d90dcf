/**
 * Time, injected. Every component that waits, measures or schedules takes a `Clock`, so that gossip,
 * suspicion, renewal and backoff run on a `VirtualClock` in tests and simulations (thousands of
 * simulated nodes, minutes of simulated time, in a fraction of the wall time). This module and
 * `random.ts` are the only ones the lint rules allow to touch real time.
 */

/** An opaque handle for a scheduled callback. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

/** A source of monotonic time in milliseconds and a scheduler of callbacks. */
export interface Clock {
  /** Monotonic milliseconds (fractional allowed); only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch, for timestamps that leave the process. */
  wallNow(): number;
  /** Runs `fn` once after `delayMs` (clamped to >= 0). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a no-op for fired or unknown handles. */
  clearTimer(handle: TimerHandle | undefined): void;
  /** Resolves after `delayMs`. */
  sleep(delayMs: number): Promise<void>;
}

/** The real clock: `performance.now()` for monotonic time, Node timers for scheduling. */
class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    // Timers never keep the process alive on their own: shutdown is explicit.
    t.unref();
    return t as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, delayMs)));
  }
}

/** The process-wide real clock. */
export const systemClock: Clock = new SystemClock();

interface VirtualTimer {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/**
 * A deterministic clock for tests and simulations. Time moves only when `advance` or `runUntil` is
 * called; timers due at the same instant fire in the order they were set. Timers live in a binary
 * heap so a 5000-node simulation with tens of thousands of pending timers stays O(log n) per timer.
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly wallOffset: number;
  private seq = 0;
  private readonly heap: VirtualTimer[] = [];

  /** @param startMs the initial monotonic time; wall time starts at 2026-01-01T00:00:00Z plus it. */
  constructor(startMs = 0) {
    this.current = startMs;
    this.wallOffset = Date.UTC(2026, 0, 1);
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.wallOffset + this.current;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: VirtualTimer = { at: this.current + Math.max(0, delayMs), seq: this.seq++, fn };
    this.push(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle | undefined): void {
    // Lazy deletion: a cleared timer stays in the heap with no callback and is skipped when popped.
    if (handle !== undefined) (handle as unknown as VirtualTimer).fn = null;
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(delayMs, resolve));
  }

  /** Number of timers still scheduled (cleared ones may be counted until they are popped). */
  pending(): number {
    return this.heap.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    this.runUntil(this.current + ms);
  }

  /** Moves time to `targetMs`, firing due timers (including ones they schedule before the target). */
  runUntil(targetMs: number): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > targetMs) break;
      this.pop();
      if (top.fn === null) continue;
      this.current = Math.max(this.current, top.at);
      const fn = top.fn;
      top.fn = null;
      fn();
    }
    this.current = Math.max(this.current, targetMs);
  }

  /**
   * Advances in steps of `stepMs`, letting the microtask queue drain between steps, so code that
   * awaits promises between timers (async handlers) makes progress on virtual time.
   */
  async advanceAsync(ms: number, stepMs = 1): Promise<void> {
    const target = this.current + ms;
    while (this.current < target) {
      this.runUntil(Math.min(target, this.current + stepMs));
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
  }

  private push(t: VirtualTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
      if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function earlier(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
