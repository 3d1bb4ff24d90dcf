/**
 * Consul blocking queries: a client sends `?index=N&wait=5s` and the server holds the request until
 * the data's index passes N or the wait runs out, then replies with `X-Consul-Index`. Endpoints that
 * support them (agent services, catalog, health, config) build their reply with `blockingRead`, which
 * waits with `waitForIndex`.
 */
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import { parseDurationMs } from '../config/duration';
import { badRequest } from './errors';
import type { ApiReply, ApiRequest } from './router';

/** Consul's default wait when `index` is given without `wait`: 5 minutes. */
export const DEFAULT_WAIT_MS = 5 * 60_000;
/** Consul's cap on `wait`: 10 minutes. */
export const MAX_WAIT_MS = 10 * 60_000;

/** `index` and `wait` of a blocking query, or undefined for an ordinary request. */
export function blockingParams(query: URLSearchParams): { index: number; waitMs: number } | undefined {
  const rawIndex = query.get('index');
  if (rawIndex === null) return undefined;
  if (!/^\d+$/.test(rawIndex)) throw badRequest(`index: expected a non-negative integer, got ${JSON.stringify(rawIndex)}`);
  const rawWait = query.get('wait');
  const waitMs = rawWait === null ? DEFAULT_WAIT_MS : parseDurationMs(rawWait);
  if (waitMs === undefined) throw badRequest(`wait: expected a duration such as "5s" or "1m", got ${JSON.stringify(rawWait)}`);
  return { index: Number(rawIndex), waitMs: Math.min(waitMs, MAX_WAIT_MS) };
}

/** A source of a monotonically increasing index with change notification. */
export interface IndexSource {
  /** The current index; must be > 0 (an index of 0 makes Consul clients spin). */
  index(): number;
  /** Calls `fn` after every change; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void;
}

/**
 * Resolves with the current index once it exceeds `index`, when `waitMs` (plus up to 1/16 jitter,
 * as Consul adds so that many watchers do not return together) runs out, or when `signal` aborts.
 * An index that went backwards (a reset) returns at once, as Consul does.
 */
export function waitForIndex(
  source: IndexSource,
  index: number,
  waitMs: number,
  clock: Clock,
  signal: AbortSignal,
  jitter: () => number = () => 0,
): Promise<number> {
  const current = source.index();
  if (current > index || current < index || signal.aborted) return Promise.resolve(current);
  return new Promise((resolve) => {
    const finish = (): void => {
      unsubscribe();
      clock.clearTimer(timer);
      signal.removeEventListener('abort', finish);
      resolve(source.index());
    };
    const unsubscribe = source.subscribe(() => {
      if (source.index() !== index) finish();
    });
    const timer = clock.setTimer(waitMs + (waitMs / 16) * jitter(), finish);
    signal.addEventListener('abort', finish, { once: true });
  });
}

/**
 * Headers Consul sends with every read that carries query metadata. Shoal has no Raft leader: each
 * agent answers from its own replica of gossiped state, so a leader is always "known" and the last
 * contact with it is 0 ms. Clients that check these (consistency-minded libraries) keep working.
 */
export const QUERY_META_HEADERS: Readonly<Record<string, string>> = { 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' };

/**
 * Runs a read as a blocking query: waits while `?index=` equals the source's index (up to `?wait=`),
 * then builds the reply from a fresh read. The index is taken before the data, so a change racing
 * the read is seen again by the client's next query rather than lost. Every reply, a 404 the
 * builder returns included, carries `X-Consul-Index` (at least 1: 0 makes Consul clients spin) and
 * the query-meta headers.
 */
export async function blockingRead(
  req: ApiRequest,
  source: IndexSource,
  timing: { clock: Clock; random: Random },
  build: (index: number) => ApiReply,
): Promise<ApiReply> {
  // Refused rather than ignored: a client that filters expects fewer results than it would get.
  if (req.query.has('filter')) throw badRequest('filter: filter expressions are not supported by Shoal; filter the results in the client');
  const params = blockingParams(req.query);
  if (params !== undefined) {
    await waitForIndex(source, params.index, params.waitMs, timing.clock, req.signal, () => timing.random.float());
  }
  const index = Math.max(1, source.index());
  const reply = build(index);
  return { ...reply, index, headers: { ...QUERY_META_HEADERS, ...reply.headers } };
}
