/**
 * The logging surface protocol code depends on. pino's logger satisfies it; tests and simulations
 * pass `noopLogger`. Callers pass structured fields first and a short message second, and never put
 * key material or tokens in either.
 */

/** Structured, levelled logging (pino's call shape). */
export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
  child(bindings: object): Logger;
  /** True when `debug` lines are emitted, so hot paths can skip building their fields. */
  isLevelEnabled?(level: string): boolean;
}

const noop = (): void => {};

/** A logger that discards everything. */
export const noopLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
  isLevelEnabled: () => false,
};

/**
 * Suppresses repeats of the same log key within `intervalMs`, so a flood of bad packets produces one
 * line per interval with a count of what was suppressed, not one line per packet.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1024,
  ) {}

  /** Returns the number of suppressed repeats to report when the line should be logged, else -1. */
  admit(key: string): number {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return -1;
    }
    if (!entry && this.last.size >= this.maxKeys) this.last.clear();
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    return suppressed;
  }
}
