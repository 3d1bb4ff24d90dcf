/**
 * `retry_join`: keep trying to join until one seed answers, waiting longer after each failure
 * (exponential backoff from 1 s, capped at `retry_interval`, with jitter so agents restarted together
 * do not retry in lockstep), forever unless `retry_max` is set. Runs on the injected clock, so tests
 * drive it on virtual time.
 */
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import type { JoinResult } from '../gossip/memberlist';

/** First wait after a failure: 1 s. */
export const RETRY_BASE_MS = 1000;

/**
 * Wait before attempt `attempt + 1` after `attempt` failures (attempt >= 1):
 * d = min(capMs, baseMs x 2^(attempt - 1)), then a uniform pick in [d/2, d] ("equal jitter").
 */
export function backoffDelayMs(attempt: number, capMs: number, random: Random, baseMs = RETRY_BASE_MS): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  const d = Math.min(capMs, baseMs * 2 ** exp);
  return d / 2 + (d / 2) * random.float();
}

/** Options of RetryJoiner. */
export interface RetryJoinerOptions {
  /** `lan` or `wan`, for logs. */
  pool: string;
  seeds: readonly string[];
  /** Backoff cap (retry_interval). */
  capMs: number;
  /** Attempts before giving up; 0 = forever (retry_max). */
  maxAttempts: number;
  join: (seeds: string[]) => Promise<JoinResult>;
  /** Called once after the last allowed attempt failed. */
  onGiveUp: (attempts: number) => void;
  clock: Clock;
  random: Random;
  logger: Logger;
}

/** Background join with backoff. */
export class RetryJoiner {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private attempts = 0;
  /** Resolves true once joined, false when it gave up or was stopped. */
  readonly done: Promise<boolean>;
  private settle!: (joined: boolean) => void;

  constructor(private readonly o: RetryJoinerOptions) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  /** Makes the first attempt now. */
  start(): void {
    if (this.o.seeds.length === 0) return this.settle(false);
    this.o.logger.info({ pool: this.o.pool, seeds: this.o.seeds }, 'retry_join: joining');
    void this.attempt();
  }

  /** Cancels further attempts. */
  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
    this.settle(false);
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    this.attempts++;
    let result: JoinResult;
    try {
      result = await this.o.join([...this.o.seeds]);
    } catch (err) {
      result = { joined: 0, errors: [{ addr: this.o.seeds.join(','), error: (err as Error).message }] };
    }
    if (this.stopped) return;
    if (result.joined > 0) {
      this.o.logger.info({ pool: this.o.pool, joined: result.joined, attempts: this.attempts }, 'retry_join: joined');
      this.settle(true);
      return;
    }
    const { maxAttempts } = this.o;
    if (maxAttempts > 0 && this.attempts >= maxAttempts) {
      this.o.logger.error({ pool: this.o.pool, attempts: this.attempts, errors: result.errors }, 'retry_join: giving up after retry_max attempts');
      this.settle(false);
      this.o.onGiveUp(this.attempts);
      return;
    }
    const delay = backoffDelayMs(this.attempts, this.o.capMs, this.o.random);
    this.o.logger.warn({ pool: this.o.pool, attempt: this.attempts, errors: result.errors, retryInMs: Math.round(delay) }, 'retry_join: attempt failed');
    this.timer = this.o.clock.setTimer(delay, () => void this.attempt());
  }
}
