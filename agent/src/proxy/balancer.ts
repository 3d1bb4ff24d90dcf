/**
 * Endpoint choice for one upstream: load balancing over the healthy endpoints and passive outlier
 * detection, as Envoy does for Consul's upstream clusters.
 *
 * - The catalog decides which endpoints exist and are healthy (checks passing or warning, gossip
 *   alive): an endpoint that turns suspect or critical leaves the set at the next snapshot.
 * - The outlier detector adds what only traffic shows: `consecutiveFailures` connect failures in a
 *   row eject an endpoint for `baseEjectionMs` times the number of its ejections so far; one success
 *   resets the run. No more than `maxEjectionPercent` of the endpoints are ejected at once, though one
 *   may always be (Envoy's rule). When every endpoint is ejected the balancer still picks one (panic
 *   mode): refusing all traffic is worse than trying.
 * - Policies: round robin; least request, as power of two choices over active connections; random.
 *
 * Pure apart from the injected clock and randomness, so tests drive it on a virtual clock.
 */
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import type { EndpointSpec, LbPolicy, OutlierSpec } from './types';

/** Per-endpoint state the balancer keeps across snapshots. */
interface EndpointState {
  spec: EndpointSpec;
  active: number;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
}

/** The failure an ejection follows (what the caller reported last). */
export interface FailureCause {
  reason: string;
  message: string;
}

/** Told when an endpoint is ejected (it returns by itself when the time is up). */
export interface OutlierEvents {
  ejected(endpoint: EndpointSpec, forMs: number, ejections: number, cause: FailureCause | undefined): void;
}

/** Chooses endpoints for one upstream. */
export class Balancer {
  private states = new Map<string, EndpointState>();
  private order: EndpointState[] = [];
  private next = 0;

  constructor(
    private policy: LbPolicy,
    private outlier: OutlierSpec,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly events?: OutlierEvents,
  ) {}

  /** Replaces the endpoint set, keeping the counters of endpoints that stay. */
  update(endpoints: readonly EndpointSpec[], policy: LbPolicy, outlier: OutlierSpec): void {
    this.policy = policy;
    this.outlier = outlier;
    const next = new Map<string, EndpointState>();
    for (const spec of endpoints) {
      const old = this.states.get(spec.id);
      next.set(spec.id, old === undefined ? { spec, active: 0, consecutiveFailures: 0, ejections: 0, ejectedUntil: 0 } : { ...old, spec });
    }
    // Connections still open on a removed endpoint keep their own reference; counts restart if it returns.
    this.states = next;
    this.order = [...next.values()];
  }

  get size(): number {
    return this.order.length;
  }

  /** Endpoints ejected right now. */
  ejectedCount(): number {
    const now = this.clock.now();
    let n = 0;
    for (const s of this.order) if (s.ejectedUntil > now) n++;
    return n;
  }

  /**
   * Picks an endpoint not in `exclude`, preferring those not ejected; undefined when none is left.
   */
  pick(exclude: ReadonlySet<string> = new Set()): EndpointSpec | undefined {
    const now = this.clock.now();
    // The common case, a first attempt with nothing ejected, allocates nothing.
    if (exclude.size === 0 && this.order.every((s) => s.ejectedUntil <= now)) {
      return this.order.length === 0 ? undefined : this.choose(this.order).spec;
    }
    const candidates = this.order.filter((s) => !exclude.has(s.spec.id));
    if (candidates.length === 0) return undefined;
    const live = candidates.filter((s) => s.ejectedUntil <= now);
    const pool = live.length > 0 ? live : candidates;
    return this.choose(pool).spec;
  }

  /** A connection to `id` opened (least request counts these). */
  opened(id: string): void {
    const s = this.states.get(id);
    if (s !== undefined) s.active++;
  }

  /** A connection to `id` closed. */
  closed(id: string): void {
    const s = this.states.get(id);
    if (s !== undefined && s.active > 0) s.active--;
  }

  /** A connect attempt to `id` succeeded: its failure run ends. */
  success(id: string): void {
    const s = this.states.get(id);
    if (s !== undefined) s.consecutiveFailures = 0;
  }

  /** A connect attempt to `id` failed (because of `cause`); may eject it. */
  failure(id: string, cause?: FailureCause): void {
    const s = this.states.get(id);
    if (s === undefined) return;
    s.consecutiveFailures++;
    const now = this.clock.now();
    if (s.ejectedUntil > now || s.consecutiveFailures < this.outlier.consecutiveFailures) return;
    if (this.ejectedCount() >= this.maxEjected()) return;
    s.ejections++;
    s.consecutiveFailures = 0;
    const forMs = this.outlier.baseEjectionMs * s.ejections;
    s.ejectedUntil = now + forMs;
    this.events?.ejected(s.spec, forMs, s.ejections, cause);
  }

  private maxEjected(): number {
    return Math.max(1, Math.floor((this.order.length * this.outlier.maxEjectionPercent) / 100));
  }

  private choose(pool: EndpointState[]): EndpointState {
    if (pool.length === 1) return pool[0]!;
    switch (this.policy) {
      case 'random':
        return pool[this.random.int(pool.length)]!;
      case 'least_request': {
        const i = this.random.int(pool.length);
        let j = this.random.int(pool.length - 1);
        if (j >= i) j++;
        const a = pool[i]!;
        const b = pool[j]!;
        return b.active < a.active ? b : a;
      }
      case 'round_robin':
      default: {
        const s = pool[this.next % pool.length]!;
        this.next = (this.next + 1) % 1_000_000_007;
        return s;
      }
    }
  }
}
