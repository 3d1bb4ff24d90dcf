/**
 * A member as the rest of the agent sees it: a read-only snapshot. The live record inside the
 * memberlist (`NodeRecord` in state.ts) is never handed out.
 */
import type { MemberState, Tags } from './messages';

/** A snapshot of one member. */
export interface Member {
  readonly name: string;
  /** Gossip address, `host:port`. */
  readonly addr: string;
  readonly tags: Tags;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Wire protocol version the member speaks. */
  readonly protocol: number;
  /** Clock time (ms, monotonic) of the last state change, for "how long has it been dead". */
  readonly stateChangedAtMs: number;
}

/** What happened to a member. */
export type MemberEventKind = 'join' | 'update' | 'suspect' | 'alive' | 'failed' | 'left' | 'reaped';

/** A membership change delivered to listeners, after the state was applied. */
export interface MemberEvent {
  kind: MemberEventKind;
  member: Member;
}

/** Hooks for higher layers (the catalog) to ride on gossip; all optional. */
export interface GossipDelegate {
  /** State to send in a push-pull (anti-entropy) exchange; bounded by the stream frame size. */
  localState?(join: boolean): Uint8Array | undefined;
  /** State received from a peer's push-pull. */
  mergeRemoteState?(state: Uint8Array, join: boolean): void;
  /** A user broadcast (see `Memberlist.broadcastUser`) arrived. */
  notifyUser?(payload: Uint8Array): void;
  /**
   * Answers a request sent with `Memberlist.request` over a stream (for state too large for a
   * datagram). Throwing or returning undefined closes the stream without an answer.
   */
  handleRequest?(payload: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/** One answer to a cluster query. */
export interface QueryResponse {
  node: string;
  payload: Uint8Array;
}

/** Answers a query by name; throwing sends no answer (the caller sees a missing response). */
export type QueryHandler = (payload: Uint8Array, fromNode: string) => Uint8Array | Promise<Uint8Array>;
