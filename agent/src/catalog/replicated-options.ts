/**
 * Options, tunables and the small interfaces the replicated catalog depends on (so that it takes a
 * Memberlist and a GossipMux without importing their internals, and tests can pass fakes).
 */
import type { GossipMux } from '../agent/gossip-mux';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Member, MemberEvent } from '../gossip/member';
import type { CatalogDropReason } from './catalog-codec';
import type { CheckRecord, ServiceRecord } from './types';

/** Tunables, with the reason for each default. */
export interface CatalogTuning {
  /**
   * A change of check output alone (statuses unchanged) is spread at most this often: 5 min, as
   * Consul's check_update_interval, since some checks print a timestamp on every run.
   */
  checkOutputSyncMs: number;
  /** Whole states carried in a periodic push-pull, most recently changed first: 128 KiB. */
  pushPullBudgetBytes: number;
  /** Same for a join push-pull (the joiner lacks everything): 1 MiB. */
  joinPushPullBudgetBytes: number;
  /** Deadline of one state fetch: 5 s. */
  fetchTimeoutMs: number;
  /** State fetches running at once: 8. */
  fetchConcurrency: number;
  /** Attempts per wanted version before leaving it to anti-entropy: 4. */
  fetchAttempts: number;
  /** Base delay between fetch attempts (x attempt number): 500 ms. */
  fetchRetryMs: number;
  /** After a member joins, wait this long for its own broadcast before fetching its state: 1 s. */
  joinFetchDelayMs: number;
  /** States of nodes gossip does not know are dropped after this long (stale rumours): 5 min. */
  unknownMemberGraceMs: number;
  /**
   * Each member broadcasts a state it applied this many times, `relayWaveGapMs` apart: 2. One wave
   * of retransmitMult x log10(N+1) copies per member reaches every member with probability about
   * 1 - N x e^-(that count) (measured: 5% of changes missed one member of 6 within 2 s); a second
   * wave squares the miss rate for twice the (small) broadcast traffic of a change.
   */
  relayWaves: number;
  /** Time between broadcast waves: 500 ms. */
  relayWaveGapMs: number;
}

/** Default tunables. */
export function defaultCatalogTuning(): CatalogTuning {
  return {
    checkOutputSyncMs: 5 * 60_000,
    pushPullBudgetBytes: 128 * 1024,
    joinPushPullBudgetBytes: 1024 * 1024,
    fetchTimeoutMs: 5000,
    fetchConcurrency: 8,
    fetchAttempts: 4,
    fetchRetryMs: 500,
    joinFetchDelayMs: 1000,
    unknownMemberGraceMs: 5 * 60_000,
    relayWaves: 2,
    relayWaveGapMs: 500,
  };
}

/** Options of ReplicatedCatalog. */
export interface ReplicatedCatalogOptions {
  /** This node's name: the gossip node name. */
  nodeName: string;
  /** This node's address as the catalog shows it (the gossip advertise host, no port). */
  address: string;
  datacenter: string;
  /** Node metadata (region, zone, ...). */
  meta?: Readonly<Record<string, string>>;
  clock: Clock;
  logger?: Logger;
  /** This run's generation; default `clock.wallNow()` at construction (the agent's start). */
  generation?: number;
  tuning?: Partial<CatalogTuning>;
}

/** The parts of the gossip pool the catalog uses (Memberlist satisfies it). */
export interface CatalogMembership {
  member(name: string): Member | undefined;
  localMember(): Member;
  on(listener: (event: MemberEvent) => void): () => void;
}

/** The parts of the gossip mux the catalog uses (GossipMux satisfies it). */
export type CatalogMux = Pick<GossipMux, 'register' | 'broadcast' | 'maxBroadcastBytes' | 'request'>;

/** This agent's services and checks, as the local registry hands them over. */
export interface LocalSnapshot {
  services: readonly ServiceRecord[];
  checks: readonly CheckRecord[];
}

/** Counters for metrics and tests. */
export interface CatalogStats {
  /** Refused peer input by reason. */
  dropped: Record<CatalogDropReason, number>;
  /** Newer node states applied from peers. */
  applied: number;
  /** States broadcast whole / as a digest (ours and relays). */
  broadcastsFull: number;
  broadcastsDigest: number;
  fetchesStarted: number;
  fetchesFailed: number;
}
