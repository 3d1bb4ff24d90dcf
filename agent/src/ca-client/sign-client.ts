/**
 * The agent's CA client: sends one CSR to some live CA server, failing over. Servers come from gossip
 * (alive members with a `ca_grpc` tag); they are tried in random order so load spreads and no server
 * is everyone's first choice, with servers that sign under the preferred root (the active one during
 * a rotation) first. A retryable failure (rate limited, unavailable, timeout, "not a signer") moves on
 * to the next server after a backoff delay (backoff.ts); a refusal (forbidden, invalid CSR,
 * unauthenticated) ends the attempt at once, because every server would give the same answer.
 */
import { CaError, CaLocalErrorCode, type SignRequest, type SignResponse } from '../../../ca/src';
import type { SignAuth } from '../../../ca/src';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { shuffle, type Random } from '../core/random';
import { backoffMs, defaultBackoffPolicy, type BackoffPolicy } from './backoff';
import type { CaServerEndpoint } from './ca-tags';

/** One call to one server (the gRPC client in production, an in-memory signer in simulations). */
export type SignTransport = (addr: string, req: SignRequest, auth: SignAuth, timeoutMs: number) => Promise<SignResponse>;

/** Counts client requests by outcome. */
export interface SignClientMetrics {
  request(outcome: string): void;
}

/** Options of SignClient. */
export interface SignClientOptions {
  /** Live CA servers right now (re-read on every pass). */
  servers: () => CaServerEndpoint[];
  transport: SignTransport;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics?: SignClientMetrics;
  /** Per-call timeout: 5 s (a signature takes well under 10 ms; the rest is network and queueing). */
  timeoutMs?: number;
  /**
   * Calls before giving up on one CSR: 10; and no new call after `budgetMs` (30 s). A restarted
   * server's channel may still be in gRPC's reconnect backoff (up to 5 s) and fail fast meanwhile, so
   * a few passes over the servers are needed, not one.
   */
  maxAttempts?: number;
  budgetMs?: number;
  backoff?: BackoffPolicy;
}

/** Labels of `shoal_ca_client_requests_total{outcome}`. */
export function outcomeOf(err: unknown): string {
  if (!(err instanceof CaError)) return 'error';
  const m: Record<string, string> = {
    SHOAL_ERR_CSR_INVALID: 'csr_invalid', SHOAL_ERR_CA_UNAUTHENTICATED: 'unauthenticated', SHOAL_ERR_CA_FORBIDDEN: 'forbidden',
    SHOAL_ERR_CA_RATE_LIMITED: 'rate_limited', SHOAL_ERR_CA_NOT_SIGNER: 'not_signer', SHOAL_ERR_CA_UNAVAILABLE: 'unavailable',
    SHOAL_ERR_CA_TIMEOUT: 'timeout',
  };
  return m[err.code] ?? 'error';
}

/** Sends CSRs to CA servers with failover and backoff. */
export class SignClient {
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly budgetMs: number;

  constructor(private readonly o: SignClientOptions) {
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.maxAttempts = o.maxAttempts ?? 10;
    this.budgetMs = o.budgetMs ?? 30_000;
  }

  /**
   * Signs `req`, asking servers until one answers or a refusal comes back. `auth` is read before each
   * call (credentials can change between attempts). `preferRoot`: servers signing under it go first.
   */
  async sign(req: SignRequest, auth: () => SignAuth, preferRoot?: string): Promise<SignResponse> {
    let queue: CaServerEndpoint[] = [];
    let lastError: unknown;
    const deadline = this.o.clock.now() + this.budgetMs;
    for (let attempt = 1; attempt <= this.maxAttempts && (attempt === 1 || this.o.clock.now() < deadline); attempt++) {
      // The queue was ordered at the start of this pass: drop servers that gossip has since declared
      // failed or left (a pass that began just after a server died would otherwise still try it).
      if (queue.length > 0) {
        const live = new Set(this.o.servers().map((s) => s.addr));
        queue = queue.filter((s) => live.has(s.addr));
      }
      if (queue.length === 0) queue = this.order(preferRoot);
      const server = queue.shift();
      if (server === undefined) {
        lastError = new CaError(CaLocalErrorCode.unavailable, 'no live CA server is known (no alive member announces a ca_grpc tag)', true);
      } else {
        try {
          const res = await this.o.transport(server.addr, req, auth(), this.timeoutMs);
          this.o.metrics?.request('ok');
          return res;
        } catch (err) {
          const outcome = outcomeOf(err);
          this.o.metrics?.request(outcome);
          lastError = err;
          if (!(err instanceof CaError) || !err.retryable) throw err;
          this.o.logger.debug({ server: server.node, addr: server.addr, outcome, attempt }, 'CA server failed; trying another');
        }
      }
      if (attempt < this.maxAttempts) await this.o.clock.sleep(backoffMs(attempt, this.o.random, this.o.backoff ?? defaultBackoffPolicy()));
    }
    throw lastError instanceof Error ? lastError : new CaError(CaLocalErrorCode.unavailable, 'no CA server answered', true);
  }

  /** Servers in random order, those signing under `preferRoot` first. */
  private order(preferRoot: string | undefined): CaServerEndpoint[] {
    const all = shuffle([...this.o.servers()], this.o.random);
    if (preferRoot === undefined || preferRoot === '') return all;
    return [...all.filter((s) => s.rootId === preferRoot), ...all.filter((s) => s.rootId !== preferRoot)];
  }
}
