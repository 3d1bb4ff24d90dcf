/** An in-process stand-in for the gossip mux between a few stores: broadcasts reach every other member, requests go to one. */
import type { GossipChannel } from '../../src/agent/gossip-mux';
import type { Member } from '../../src/gossip/member';

/** The members' channels by address. */
export class FakeNet {
  readonly channels = new Map<string, GossipChannel>();
  /** Addresses that receive nothing (partitioned away). */
  readonly down = new Set<string>();
  broadcasts = 0;

  /** A mux and membership for the member at `addr`. */
  join(addr: string) {
    const { channels, down } = this;
    const count = (): void => void this.broadcasts++;
    return {
      mux: {
        register(_id: number, ch: GossipChannel) { channels.set(addr, ch); },
        broadcast(_id: number, payload: Uint8Array) {
          count();
          for (const [a, ch] of channels) if (a !== addr && !down.has(a) && !down.has(addr)) queueMicrotask(() => ch.onBroadcast(payload));
        },
        async request(_id: number, to: string, payload: Uint8Array): Promise<Uint8Array> {
          const ch = channels.get(to);
          if (ch === undefined || down.has(to) || down.has(addr)) throw new Error(`${to} unreachable`);
          const answer = await ch.handleRequest!(payload);
          if (answer === undefined) throw new Error('no answer');
          return answer;
        },
      },
      membership: { localMember: (): Member => ({ name: addr, addr, tags: {}, state: 'alive', incarnation: 1, protocol: 1, stateChangedAtMs: 0 }) },
    };
  }

  /** One push-pull exchange between two members (both directions, as memberlist does). */
  pushPull(a: string, b: string): void {
    const ca = this.channels.get(a)!;
    const cb = this.channels.get(b)!;
    const sa = ca.localState?.(false);
    const sb = cb.localState?.(false);
    if (sb !== undefined) ca.mergeRemoteState?.(sb, false);
    if (sa !== undefined) cb.mergeRemoteState?.(sa, false);
  }
}

/** Lets queued microtasks and pending I/O callbacks run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
