/**
 * Push-pull anti-entropy (memberlist's pushPullNode / mergeState): two members swap their whole
 * member tables over a stream, plus the delegate's state. It runs at join and every pushPullInterval
 * with one random member, repairing whatever piggybacked gossip missed.
 */
import type { GossipHost } from './host';
import type { GossipDelegate } from './member';
import type { PushPullMessage } from './messages';

/**
 * The push-pull interval for N members: the configured one up to 32 members, then longer by one
 * interval per doubling (memberlist's pushPullScale), so the total state traffic stays near-flat.
 */
export function pushPullScaleMs(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return multiplier * intervalMs;
}

/** Builds our side of an exchange. */
export function localPushPull(host: GossipHost, delegate: GossipDelegate | undefined, join: boolean): PushPullMessage {
  const nodes = host.membership.table.all().map((r) => ({
    name: r.name, addr: r.addr, incarnation: r.incarnation, state: r.state, tags: r.tags, protocol: r.protocol,
  }));
  const msg: PushPullMessage = { type: 'pushPull', join, nodes };
  const userState = delegate?.localState?.(join);
  if (userState !== undefined) msg.userState = userState;
  return msg;
}

/**
 * Merges a peer's table. A peer's "dead" becomes our "suspect" (memberlist does the same): the member
 * then gets a chance to refute, and we never declare death on hearsay from one exchange.
 */
export function mergeRemote(host: GossipHost, delegate: GossipDelegate | undefined, msg: PushPullMessage): void {
  const m = host.membership;
  const self = host.cfg.nodeName;
  for (const n of msg.nodes) {
    switch (n.state) {
      case 'alive':
        m.aliveNode({ type: 'alive', incarnation: n.incarnation, node: n.name, addr: n.addr, tags: n.tags, protocol: n.protocol });
        break;
      case 'left':
        m.deadNode({ type: 'dead', incarnation: n.incarnation, node: n.name, from: n.name });
        break;
      case 'dead':
      case 'suspect':
        m.suspectNode({ type: 'suspect', incarnation: n.incarnation, node: n.name, from: self });
        break;
    }
  }
  if (msg.userState !== undefined && delegate?.mergeRemoteState) {
    try {
      delegate.mergeRemoteState(msg.userState, msg.join);
    } catch (err) {
      host.log.warn({ err }, 'delegate failed to merge remote state');
    }
  }
}

/** Runs one exchange with `addr` as the initiator. Rejects with the reason on any failure. */
export async function pushPull(host: GossipHost, delegate: GossipDelegate | undefined, addr: string, join: boolean): Promise<void> {
  const reply = await host.exchange(addr, localPushPull(host, delegate, join), host.cfg.tcpTimeoutMs, true);
  if (reply?.type !== 'pushPull') throw new Error(`push-pull with ${addr}: peer answered ${reply?.type ?? 'nothing'}`);
  mergeRemote(host, delegate, reply);
}
