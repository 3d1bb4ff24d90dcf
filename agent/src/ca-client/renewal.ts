/**
 * When to renew a leaf: at a uniformly random point between 60% and 90% of its lifetime, as the
 * architecture asks. Early enough that a CA outage of up to 10% of the TTL (7.2 h at 72 h) plus
 * retries still ends with a fresh leaf; random so that agents started together (a rollout, a root
 * rotation) do not all renew in the same second.
 */
import type { Random } from '../core/random';

/** Earliest renewal, as a fraction of the lifetime. */
export const RENEW_FROM = 0.6;
/** Latest renewal, as a fraction of the lifetime. */
export const RENEW_TO = 0.9;

/**
 * Wall-clock ms at which to renew a leaf valid from `notBeforeMs` to `notAfterMs`:
 * notBefore + lifetime x (0.6 + 0.3 x u), u uniform in [0, 1). A lifetime <= 0 renews at notBefore.
 */
export function renewAtMs(notBeforeMs: number, notAfterMs: number, random: Random): number {
  const lifetime = Math.max(0, notAfterMs - notBeforeMs);
  return notBeforeMs + lifetime * (RENEW_FROM + (RENEW_TO - RENEW_FROM) * random.float());
}

/** True when a leaf may still be served at `nowMs`: not yet expired (and already valid, with 1 min of skew allowed). */
export function servable(notBeforeMs: number, notAfterMs: number, nowMs: number, skewMs = 60_000): boolean {
  return nowMs < notAfterMs && nowMs + skewMs >= notBeforeMs;
}
