/** Polling with a deadline, for tests that wait on real sockets: never a fixed sleep. */
import { systemClock } from '../../src/core/clock';

/** Resolves once `check` returns a truthy value (returned); fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = systemClock.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (systemClock.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: last error: ${String(last)}`}`);
    }
    await systemClock.sleep(everyMs);
  }
}
