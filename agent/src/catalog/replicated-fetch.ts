/**
 * Pulls node states that are too large for a datagram (or that a digest says we lack) over gossip
 * streams. Wants are keyed by node, so a burst of digests about one node costs one request; at most
 * `maxInFlight` requests run at once; a failed or still-behind fetch tries the next address (the
 * node itself first, then whoever told us about the version) after `retryDelayMs x attempt`, up to
 * `maxAttempts`. Anything still missing after that is left to push-pull anti-entropy.
 */
import type { Clock, TimerHandle } from '../core/clock';
import { compareVersions, type NodeVersion } from './types';

/** What the fetcher needs from its owner. */
export interface FetcherHooks {
  clock: Clock;
  /** One request to `addr` for `node`'s state; applies what comes back. Rejections count as failures. */
  fetch(node: string, addr: string): Promise<void>;
  /** The version held for `node`, or undefined. */
  have(node: string): NodeVersion | undefined;
}

/** Tunables of the fetcher. */
export interface FetcherLimits {
  /** Requests running at once: 8. */
  maxInFlight: number;
  /** Requests per wanted version before giving up to anti-entropy: 4. */
  maxAttempts: number;
  /** Base delay between attempts, multiplied by the attempt number: 500 ms. */
  retryDelayMs: number;
}

interface Want {
  version: NodeVersion;
  addrs: string[];
  attempt: number;
  running: boolean;
  timer: TimerHandle | undefined;
}

/** Deduplicated, bounded fetching of node states. */
export class ReplicatedFetcher {
  private readonly wants = new Map<string, Want>();
  /** Nodes ready to run, in arrival order (a Set: O(1) removal, insertion-ordered iteration). */
  private readonly ready = new Set<string>();
  private inFlight = 0;
  private closed = false;
  /** Fetches that failed (network, timeout, bad answer). */
  failures = 0;
  /** Fetches started. */
  started = 0;

  constructor(private readonly hooks: FetcherHooks, private readonly limits: FetcherLimits) {}

  /** Asks for `node` at `version` or newer from the first reachable of `addrs`. */
  want(node: string, version: NodeVersion, addrs: readonly (string | undefined)[]): void {
    if (this.closed || this.satisfied(node, version)) return;
    const clean = [...new Set(addrs.filter((a): a is string => typeof a === 'string' && a.length > 0))];
    if (clean.length === 0) return;
    const w = this.wants.get(node);
    if (w === undefined) {
      this.wants.set(node, { version, addrs: clean, attempt: 0, running: false, timer: undefined });
      this.ready.add(node);
      this.pump();
      return;
    }
    if (compareVersions(version, w.version) > 0) {
      w.version = version;
      w.attempt = 0;
    }
    w.addrs = [...new Set([...w.addrs, ...clean])];
  }

  /** Forgets a node (it failed, left or was reaped). */
  cancel(node: string): void {
    const w = this.wants.get(node);
    if (w === undefined) return;
    this.hooks.clock.clearTimer(w.timer);
    this.wants.delete(node);
    this.ready.delete(node);
  }

  /** Number of nodes wanted (running, waiting or backing off). */
  pending(): number {
    return this.wants.size;
  }

  close(): void {
    this.closed = true;
    for (const node of [...this.wants.keys()]) this.cancel(node);
  }

  private satisfied(node: string, version: NodeVersion): boolean {
    const have = this.hooks.have(node);
    return have !== undefined && compareVersions(have, version) >= 0;
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.limits.maxInFlight && this.ready.size > 0) {
      const node = this.ready.values().next().value as string;
      this.ready.delete(node);
      this.run(node);
    }
  }

  private run(node: string): void {
    const w = this.wants.get(node);
    if (w === undefined || w.running) return;
    if (this.satisfied(node, w.version)) {
      this.wants.delete(node);
      return;
    }
    const addr = w.addrs[w.attempt % w.addrs.length]!;
    w.attempt++;
    w.running = true;
    this.inFlight++;
    this.started++;
    this.hooks.fetch(node, addr).catch(() => {
      this.failures++;
    }).finally(() => {
      this.inFlight--;
      w.running = false;
      this.settle(node, w);
      this.pump();
    });
  }

  private settle(node: string, w: Want): void {
    if (this.wants.get(node) !== w) return; // cancelled meanwhile
    if (this.satisfied(node, w.version) || w.attempt >= this.limits.maxAttempts) {
      this.wants.delete(node);
      return;
    }
    w.timer = this.hooks.clock.setTimer(this.limits.retryDelayMs * w.attempt, () => {
      w.timer = undefined;
      if (this.wants.get(node) !== w) return;
      this.ready.add(node);
      this.pump();
    });
  }
}
