/**
 * Gossip messages as the protocol code sees them. `codec.ts` turns them into bytes and back and is
 * the only place that knows the wire layout; everything here is plain data.
 */

/** Member states. `left` is a graceful leave, distinct from `dead` (failed). */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** Gossip tags: role, cluster, region, zone, ports, version, ... (bounded by `maxTagsBytes`). */
export type Tags = Readonly<Record<string, string>>;

/** Wire message type codes. Values are part of the wire format: never renumber. */
export const MessageType = {
  ping: 1,
  indirectPing: 2,
  ack: 3,
  nack: 4,
  suspect: 5,
  alive: 6,
  dead: 7,
  pushPull: 8,
  user: 9,
  query: 10,
  queryResponse: 11,
  compound: 12,
} as const;

/** Direct probe. `target` lets a node that was reassigned an address ignore pings for someone else. */
export interface PingMessage {
  type: 'ping';
  seqNo: number;
  target: string;
  sourceNode: string;
  sourceAddr: string;
}

/** Ask a member to probe `target` on our behalf and relay the ack (and a nack if it cannot). */
export interface IndirectPingMessage {
  type: 'indirectPing';
  seqNo: number;
  target: string;
  targetAddr: string;
  nack: boolean;
  sourceNode: string;
  sourceAddr: string;
}

/** Answer to a ping; `payload` is optional and opaque (reserved for a future coordinate system). */
export interface AckMessage {
  type: 'ack';
  seqNo: number;
  payload?: Uint8Array;
}

/** An indirect prober's report that it could not reach the target (Lifeguard uses it for health). */
export interface NackMessage {
  type: 'nack';
  seqNo: number;
}

/** `from` suspects `node` at `incarnation`. */
export interface SuspectMessage {
  type: 'suspect';
  incarnation: number;
  node: string;
  from: string;
}

/** `node` is alive at `incarnation`, reachable at `addr`, with `tags`. */
export interface AliveMessage {
  type: 'alive';
  incarnation: number;
  node: string;
  addr: string;
  tags: Tags;
  /** Protocol version the node speaks (for rolling upgrades). */
  protocol: number;
}

/** `from` declares `node` dead at `incarnation`; `from === node` means the node left gracefully. */
export interface DeadMessage {
  type: 'dead';
  incarnation: number;
  node: string;
  from: string;
}

/** One member's entry in a push-pull exchange. */
export interface PushNodeState {
  name: string;
  addr: string;
  incarnation: number;
  state: MemberState;
  tags: Tags;
  protocol: number;
}

/** Full state exchange over a stream (anti-entropy), sent by both sides. */
export interface PushPullMessage {
  type: 'pushPull';
  /** True when the initiator is joining: the receiver then answers even before it has been probed. */
  join: boolean;
  nodes: PushNodeState[];
  /** Opaque state from the delegate (the catalog, later), bounded by the stream frame size. */
  userState?: Uint8Array;
}

/** An application message carried by gossip (delegate broadcasts). */
export interface UserMessage {
  type: 'user';
  payload: Uint8Array;
}

/**
 * A cluster-wide question (serf-style query): disseminated like a broadcast; every member that
 * handles `name` answers `origin` directly with a `queryResponse` carrying the same `id`.
 */
export interface QueryMessage {
  type: 'query';
  id: number;
  /** Sender's incarnation-independent start time (wall ms): with `id` and `originNode` it dedupes. */
  ltime: number;
  originNode: string;
  originAddr: string;
  name: string;
  payload: Uint8Array;
  /** Responders give up answering after this many ms from receipt. */
  timeoutMs: number;
}

/** A member's answer to a query. */
export interface QueryResponseMessage {
  type: 'queryResponse';
  id: number;
  ltime: number;
  fromNode: string;
  payload: Uint8Array;
}

/** Any gossip message. */
export type Message =
  | PingMessage
  | IndirectPingMessage
  | AckMessage
  | NackMessage
  | SuspectMessage
  | AliveMessage
  | DeadMessage
  | PushPullMessage
  | UserMessage
  | QueryMessage
  | QueryResponseMessage;

/** Current wire protocol version; a node refuses messages whose version it does not speak. */
export const PROTOCOL_VERSION = 1;
