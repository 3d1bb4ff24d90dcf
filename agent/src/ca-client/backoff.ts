/**
 * Retry delays of the CA client: after a retryable failure (rate limited, unavailable, timeout) the
 * client waits, then asks the next server. Exponential growth keeps a struggling cluster from being
 * hammered; "full jitter" (a uniform pick in [0, d], AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015) spreads agents that failed together, which matters here because a rotation asks
 * every agent for new leaves within one window.
 */
import type { Random } from '../core/random';

/** Backoff parameters; units are milliseconds. */
export interface BackoffPolicy {
  /** First delay's upper bound: 200 ms (a rate-limited server frees a token every 1/rate s = 20 ms at 50/s). */
  baseMs: number;
  /** Largest upper bound: 30 s, so an agent whose servers all went away notices their return quickly. */
  capMs: number;
  /** Smallest delay ever returned: 50 ms, so a retry never spins. */
  floorMs: number;
}

/** The CA client's default policy. */
export function defaultBackoffPolicy(): BackoffPolicy {
  return { baseMs: 200, capMs: 30_000, floorMs: 50 };
}

/**
 * Delay before attempt `attempt + 1` after `attempt` consecutive failures (attempt >= 1):
 * d = min(capMs, baseMs x 2^(attempt - 1)); delay = max(floorMs, d x u) with u uniform in [0, 1).
 */
export function backoffMs(attempt: number, random: Random, policy: BackoffPolicy = defaultBackoffPolicy()): number {
  const exp = Math.min(30, Math.max(0, Math.floor(attempt) - 1));
  const d = Math.min(policy.capMs, policy.baseMs * 2 ** exp);
  return Math.max(policy.floorMs, d * random.float());
}
