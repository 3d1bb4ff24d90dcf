/** Options, tunables and counters of the config entry store. */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Member } from '../gossip/member';

/** Tunables, with the reason for each default. */
export interface ConfigEntriesTuning {
  /** Tombstones are kept this long after the delete: 72 h (Consul's reconnect_timeout order). */
  tombstoneTtlMs: number;
  /** How often expired tombstones are dropped: 1 h. */
  gcIntervalMs: number;
  /**
   * Writes stamped further than this ahead of our wall clock are refused (a peer with a wildly
   * wrong clock would otherwise win every conflict for as long as its lead): 1 h. Refused writes
   * come back through anti-entropy once our clock catches up.
   */
  maxClockSkewMs: number;
  /** Replicated changes are written to disk within this delay, coalescing bursts: 100 ms. */
  persistDelayMs: number;
  /** Deadline of one stream request (fetch, anti-entropy push): 5 s. */
  requestTimeoutMs: number;
  /** Encoded records per anti-entropy push request: 1 MiB. */
  pushBatchBytes: number;
  /** Records applied by one anti-entropy exchange that are also re-broadcast; above this the
   * exchange was a catch-up (the others already have them): 32. */
  relayCatchUpMax: number;
  /** Broadcast waves per applied write, relayWaveGapMs apart (see the catalog's tuning): 2. */
  relayWaves: number;
  relayWaveGapMs: number;
}

/** Default tunables. */
export function defaultConfigEntriesTuning(): ConfigEntriesTuning {
  return {
    tombstoneTtlMs: 72 * 3600_000,
    gcIntervalMs: 3600_000,
    maxClockSkewMs: 3600_000,
    persistDelayMs: 100,
    requestTimeoutMs: 5000,
    pushBatchBytes: 1024 * 1024,
    relayCatchUpMax: 32,
    relayWaves: 2,
    relayWaveGapMs: 500,
  };
}

/** Options of ConfigEntryStore. */
export interface ConfigEntryStoreOptions {
  /** This node's name (the writer name in stamps). */
  nodeName: string;
  clock: Clock;
  logger?: Logger;
  /** The agent's data directory; without it the store lives in memory only. */
  dataDir?: string;
  tuning?: Partial<ConfigEntriesTuning>;
}

/** The parts of the gossip pool the store uses (Memberlist satisfies it). */
export interface EntryMembership {
  localMember(): Member;
}

/** Why a peer's input was refused. */
export type EntryDropReason = 'decode' | 'shape' | 'size' | 'type' | 'skew';

/** Counters for metrics and tests. */
export interface ConfigEntryStats {
  dropped: Record<EntryDropReason, number>;
  /** Writes from peers that won and were applied. */
  applied: number;
  /** Tombstones held. */
  tombstones: number;
  /** Records pushed to peers by anti-entropy. */
  pushed: number;
}
