/**
 * Running wrk and reading its report. Lua-free: `wrk --latency` prints the 50/75/90/99th percentiles
 * of its (HdrHistogram) latency distribution, and the summary gives requests, errors and requests/s.
 */
import { systemClock } from '../../agent/src/core/clock';
import { start, stop } from './proxy-bench-procs';

/** What one wrk run measured. */
export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** "connect 0, read 3, write 0, timeout 0" when wrk reported socket errors. */
  socketErrors: string | undefined;
  non2xx: number;
}

/** One load pattern: `connections` concurrent connections, kept alive or closed after each request. */
export interface Scenario {
  name: string;
  connections: number;
  /** A new connection per request (`Connection: close` on every request). */
  close: boolean;
}

/** `keepalive-16`, `close-16`, ... */
export function parseScenario(name: string): Scenario | undefined {
  const m = /^(keepalive|close)-(\d{1,4})$/.exec(name);
  if (m === null || Number(m[2]) < 1) return undefined;
  return { name, connections: Number(m[2]), close: m[1] === 'close' };
}

/** A wrk duration (`253.00us`, `1.20ms`, `2.01s`, `1.00m`) in milliseconds. */
export function wrkDurationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Parses `wrk --latency` output; undefined when the summary lines are missing. */
export function parseWrk(out: string): WrkResult | undefined {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s+50(?:\.000)?%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99(?:\.000)?%\s+(\S+)/m.exec(out);
  const total = /^\s+(\d+) requests in /m.exec(out);
  if (rps === null || p50 === null || p99 === null || total === null) return undefined;
  const errors = /Socket errors:\s+(.+)$/m.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: wrkDurationMs(p50[1]!),
    p99Ms: wrkDurationMs(p99[1]!),
    requests: Number(total[1]),
    socketErrors: errors?.[1]?.trim(),
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

/**
 * Runs `wrk -t1` against `url` for `durationS` seconds; one thread is enough for one proxy thread's
 * worth of load and keeps the load generator to one CPU. Killed if it overruns by 20 s.
 */
export async function runWrk(url: string, s: Scenario, durationS: number, cpus: string | undefined): Promise<{ result: WrkResult | undefined; output: string }> {
  const args = ['-t1', `-c${s.connections}`, `-d${durationS}s`, '--latency', '--timeout', '5s'];
  if (s.close) args.push('-H', 'Connection: close');
  args.push(url);
  const p = start('wrk', 'wrk', args, { cpus });
  let output = '';
  p.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  p.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const closed = new Promise<void>((res) => p.child.once('close', () => res()));
  const guard = systemClock.setTimer((durationS + 20) * 1000, () => void stop(p, 1_000));
  try {
    await closed;
  } finally {
    systemClock.clearTimer(guard);
  }
  return { result: parseWrk(output), output };
}
