/**
 * Durations as Consul and Go write them ("200ms", "1s", "1m30s", "72h", "1.5s"), or a plain number
 * of milliseconds. Everything internal is milliseconds.
 */

/** Milliseconds per unit, for every unit Go's time.ParseDuration accepts. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** What an operator is told when a duration does not parse. */
export const DURATION_EXPECTED = 'expected a duration such as "500ms", "1s", "1m30s" or "72h", or a number of milliseconds';

/**
 * Parses a Go-style duration string or a number of milliseconds into milliseconds. Returns
 * undefined for anything else, including negative values (no Shoal duration may be negative) and a
 * unitless string other than "0" (as Go's ParseDuration refuses "500": is it ms or s?).
 */
export function parseDurationMs(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const s = input.trim().replace(/^\+/, '');
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < s.length) {
    const start = COMPONENT.lastIndex;
    const m = COMPONENT.exec(s);
    if (m === null || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Formats milliseconds the way Go prints durations ("1m30s", "200ms", "72h0m0s" becomes "72h"). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
}
