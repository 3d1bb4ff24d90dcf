/**
 * A token bucket: `burst` tokens to start with, refilled continuously at `ratePerSec`, capped at
 * `burst`. One `take()` per signing request is Consul's `csr_max_per_second` model; as there, a rate
 * of 0 turns limiting off. Time comes from the injected clock, so tests run it on a VirtualClock.
 */
import type { Clock } from '../../agent/src/core/clock';

/** Options of a `TokenBucket`. */
export interface TokenBucketOptions {
  /** Sustained admissions per second; 0 (or less) disables limiting. */
  ratePerSec: number;
  /** Admissions allowed at once after an idle period (at least 1). */
  burst: number;
  clock: Clock;
}

/** Admits at most `burst` at once and `ratePerSec` on average. */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private lastMs: number;

  constructor(opts: TokenBucketOptions) {
    if (!Number.isFinite(opts.burst) || opts.burst < 1) throw new Error(`TokenBucket: burst must be >= 1, got ${opts.burst}`);
    if (Number.isNaN(opts.ratePerSec)) throw new Error('TokenBucket: ratePerSec is NaN');
    this.ratePerMs = opts.ratePerSec / 1000;
    this.burst = opts.burst;
    this.clock = opts.clock;
    this.tokens = opts.burst;
    this.lastMs = opts.clock.now();
  }

  /** True when limiting is off. */
  get unlimited(): boolean {
    return this.ratePerMs <= 0;
  }

  /** Takes one token if there is one; false means over the limit. */
  take(): boolean {
    if (this.unlimited) return true;
    const now = this.clock.now();
    // tokens = min(burst, tokens + elapsed x rate); a clock that went backwards adds nothing.
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.lastMs) * this.ratePerMs);
    this.lastMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token (0 if one is available now); a hint for Retry-After style replies. */
  waitMs(): number {
    if (this.unlimited) return 0;
    const now = this.clock.now();
    const tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.lastMs) * this.ratePerMs);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.ratePerMs);
  }
}
