/**
 * Several layers ride on one gossip pool: the service catalog, config entries, and later the CA
 * trust bundle. The mux is the pool's single GossipDelegate and routes user broadcasts, push-pull
 * state and stream requests to channels by a one-byte channel id prefixed to every payload.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { GossipDelegate } from '../gossip/member';
import type { Memberlist } from '../gossip/memberlist';

/** Channel ids: part of the wire format, never renumber. */
export const Channel = {
  catalog: 1,
  configEntries: 2,
  caBundle: 3,
} as const;

/** One layer's hooks. All optional except broadcasts. */
export interface GossipChannel {
  /** A payload another member broadcast on this channel. Must not throw on bad input: validate. */
  onBroadcast(payload: Uint8Array): void;
  /** This layer's state for a push-pull exchange (anti-entropy); undefined sends none. */
  localState?(join: boolean): Uint8Array | undefined;
  /** A peer's state from a push-pull exchange. */
  mergeRemoteState?(state: Uint8Array, join: boolean): void;
  /** Answers `GossipMux.request` from another member. */
  handleRequest?(payload: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/** Routes gossip user traffic between channels. */
export class GossipMux implements GossipDelegate {
  private readonly channels = new Map<number, GossipChannel>();
  private memberlist: Memberlist | undefined;
  /** Counts inputs that named no registered channel or failed to parse (for metrics). */
  dropped = 0;

  register(id: number, channel: GossipChannel): void {
    if (this.channels.has(id)) throw new Error(`gossip channel ${id} registered twice`);
    this.channels.set(id, channel);
  }

  /** Binds the pool to send through (the mux is created first, as the pool's delegate). */
  attach(memberlist: Memberlist): void {
    this.memberlist = memberlist;
  }

  /** Broadcasts on a channel; a later broadcast with the same key replaces a queued one. */
  broadcast(id: number, payload: Uint8Array, key?: string): void {
    this.pool().broadcastUser(prefixed(id, payload), key === undefined ? undefined : `${id}:${key}`);
  }

  /** Largest payload `broadcast` accepts. */
  maxBroadcastBytes(): number {
    return this.pool().maxUserBroadcastBytes() - 1;
  }

  /** Asks the member at `addr` (its channel's handleRequest) over a stream. */
  request(id: number, addr: string, payload: Uint8Array, timeoutMs?: number): Promise<Uint8Array> {
    return this.pool().request(addr, prefixed(id, payload), timeoutMs);
  }

  // ---- GossipDelegate ----

  notifyUser(payload: Uint8Array): void {
    const ch = this.route(payload);
    ch?.onBroadcast(payload.subarray(1));
  }

  handleRequest(payload: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    return this.route(payload)?.handleRequest?.(payload.subarray(1));
  }

  localState(join: boolean): Uint8Array | undefined {
    const parts: Record<string, Uint8Array> = {};
    let any = false;
    for (const [id, ch] of this.channels) {
      const s = ch.localState?.(join);
      if (s !== undefined) {
        parts[String(id)] = s;
        any = true;
      }
    }
    return any ? encode(parts) : undefined;
  }

  mergeRemoteState(state: Uint8Array, join: boolean): void {
    let parts: unknown;
    try {
      parts = decode(state);
    } catch {
      this.dropped++;
      return;
    }
    if (typeof parts !== 'object' || parts === null) {
      this.dropped++;
      return;
    }
    for (const [id, value] of Object.entries(parts as Record<string, unknown>)) {
      const ch = this.channels.get(Number(id));
      if (!ch?.mergeRemoteState || !(value instanceof Uint8Array)) continue;
      ch.mergeRemoteState(value, join);
    }
  }

  private route(payload: Uint8Array): GossipChannel | undefined {
    const ch = payload.length > 0 ? this.channels.get(payload[0]!) : undefined;
    if (!ch) this.dropped++;
    return ch;
  }

  private pool(): Memberlist {
    if (!this.memberlist) throw new Error('gossip mux used before its pool was attached');
    return this.memberlist;
  }
}

function prefixed(id: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = id;
  out.set(payload, 1);
  return out;
}
