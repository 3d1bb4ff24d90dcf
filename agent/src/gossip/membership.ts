/**
 * The membership state machine (memberlist's aliveNode, suspectNode and deadNode in state.go): how
 * alive, suspect and dead/left messages change the member table, when we refute rumours about
 * ourselves, and what gets re-broadcast. The three handlers are kept together because their rules
 * (incarnation ordering, refutation, invalidation) only make sense side by side.
 *
 * Ordering rule: a message about a member applies only if its incarnation is newer than what we
 * hold, or equal and "worse" (suspect over alive, dead over suspect). Only the member itself raises
 * its incarnation, which it does to refute a suspect or dead rumour about itself.
 */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { Awareness } from './awareness';
import { BroadcastQueue } from './broadcast-queue';
import { encodeMessage } from './codec';
import type { GossipConfig } from './config';
import type { MemberEvent, MemberEventKind } from './member';
import type { AliveMessage, DeadMessage, SuspectMessage, Tags } from './messages';
import type { GossipMetrics } from './metrics';
import { MemberTable, newRecord, type NodeRecord, snapshot } from './state';
import { Suspicion, suspicionTimeoutMs } from './suspicion';

/** Encoded size of a tag set, as checked against maxTagsBytes. */
export function tagsBytes(tags: Tags): number {
  let n = 0;
  for (const [k, v] of Object.entries(tags)) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  return n;
}

function sameTags(a: Tags, b: Tags): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/** Applies membership messages to the table and decides what to broadcast. */
export class Membership {
  /** True once leave() started: rumours of our death are then accepted, not refuted. */
  leaving = false;
  /**
   * Sends a message straight to many members at once, besides gossip (set by the memberlist). Used
   * when this node's own suspicion timer declares a member dead, so no member waits for its own timer.
   */
  announce: ((msg: DeadMessage) => void) | undefined;
  private readonly listeners: ((e: MemberEvent) => void)[] = [];

  constructor(
    private readonly cfg: GossipConfig,
    readonly table: MemberTable,
    readonly broadcasts: BroadcastQueue,
    readonly awareness: Awareness,
    private readonly clock: Clock,
    private readonly metrics: GossipMetrics,
    private readonly log: Logger,
  ) {}

  /** The local node's record (always present after `bootstrap`). */
  local(): NodeRecord {
    return this.table.get(this.cfg.nodeName)!;
  }

  /** Creates our own record, alive at incarnation 1, and queues its announcement. */
  bootstrap(addr: string, tags: Tags, protocol: number): void {
    const r = newRecord(this.cfg.nodeName, addr, tags, 'alive', 1, protocol, this.clock.now());
    this.table.add(r);
    this.broadcastAlive(r);
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: MemberEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Replaces our tags and announces them with a new incarnation. */
  setLocalTags(tags: Tags): void {
    const r = this.local();
    r.tags = tags;
    r.incarnation++;
    this.broadcastAlive(r);
  }

  /** Applies an `alive` message (from gossip, a push-pull merge, or our own join). */
  aliveNode(a: AliveMessage): void {
    const isLocal = a.node === this.cfg.nodeName;
    let r = this.table.get(a.node);
    if (isLocal) {
      this.aliveAboutSelf(a);
      return;
    }
    if (tagsBytes(a.tags) > this.cfg.maxTagsBytes) {
      this.metrics.dropped('invalid', 'udp');
      return;
    }
    if (!r) {
      r = newRecord(a.node, a.addr, a.tags, 'dead', a.incarnation, a.protocol, this.clock.now());
      this.table.add(r);
      this.table.setState(r, 'alive', this.clock.now());
      this.broadcastAlive(r);
      this.emit('join', r);
      return;
    }
    if (r.addr !== a.addr && (r.state === 'alive' || r.state === 'suspect')) {
      // Two processes claim one name. Keep the one we know; the other will see this and complain too.
      this.log.warn({ node: a.node, known: r.addr, claimed: a.addr }, 'conflicting address for member; ignoring');
      return;
    }
    if (a.incarnation <= r.incarnation) return;
    this.applyAlive(r, a);
  }

  /** Applies a `suspect` message. */
  suspectNode(s: SuspectMessage): void {
    const r = this.table.get(s.node);
    if (!r || s.incarnation < r.incarnation) return;
    if (r.suspicion && r.state === 'suspect') {
      // Another member agrees: count it and pass it on so the others can count it too.
      if (r.suspicion.confirm(s.from)) this.queueNode(r.name, s);
      return;
    }
    if (r.state !== 'alive') return;
    if (s.node === this.cfg.nodeName) {
      this.refute(r, s.incarnation);
      this.log.warn({ from: s.from, incarnation: s.incarnation }, 'refuting a suspicion about this node');
      return;
    }
    this.queueNode(r.name, s);
    this.metrics.suspicion();
    r.incarnation = s.incarnation;
    this.table.setState(r, 'suspect', this.clock.now());
    r.suspicion = this.newSuspicion(r, s.from);
    // Probe it next: a dead member then collects its independent confirmations within about one
    // probe interval (so the suspicion shrinks to its minimum), and a live one hears the rumour
    // directly (the ping carries it) and refutes sooner.
    this.table.probeNext(r.name);
    this.emit('suspect', r);
  }

  /** Applies a `dead` message; `from === node` means a graceful leave. */
  deadNode(d: DeadMessage): void {
    const r = this.table.get(d.node);
    if (!r || d.incarnation < r.incarnation) return;
    const left = d.from === d.node;
    if (r.state === 'left') return;
    if (r.state === 'dead') {
      // A member we declared failed may have left gracefully while we could not hear it: its own leave
      // notice corrects our record (serf does the same with leave intents), so it never stays failed.
      if (left) this.markLeftAfterDeath(r, d);
      return;
    }
    if (d.node === this.cfg.nodeName && !this.leaving) {
      this.refute(r, d.incarnation);
      this.log.warn({ from: d.from, incarnation: d.incarnation }, 'refuting a death report about this node');
      return;
    }
    r.suspicion?.cancel();
    r.suspicion = undefined;
    this.queueNode(r.name, d);
    r.incarnation = d.incarnation;
    this.table.setState(r, left ? 'left' : 'dead', this.clock.now());
    if (!left) this.metrics.failure();
    this.log.info({ node: r.name, addr: r.addr, from: d.from }, left ? 'member left' : 'member failed');
    this.emit(left ? 'left' : 'failed', r);
  }

  private markLeftAfterDeath(r: NodeRecord, d: DeadMessage): void {
    this.queueNode(r.name, d);
    r.incarnation = d.incarnation;
    this.table.setState(r, 'left', this.clock.now());
    this.log.info({ node: r.name, addr: r.addr }, 'member marked failed had left gracefully');
    this.emit('left', r);
  }

  /** Removes dead and left members whose reap time passed; returns how many went. */
  reap(): number {
    const now = this.clock.now();
    const gone: NodeRecord[] = [];
    for (const r of this.table.goneMembers()) {
      const limit = r.state === 'dead' ? this.cfg.deadReapMs : r.state === 'left' ? this.cfg.leftReapMs : -1;
      if (limit >= 0 && now - r.stateChangedAtMs > limit) gone.push(r);
    }
    for (const r of gone) {
      this.table.remove(r.name);
      this.emit('reaped', r);
    }
    return gone.length;
  }

  /** Announces our departure: our own `dead` with from = us, which everyone records as `left`. */
  announceLeave(onSent: () => void): void {
    this.leaving = true;
    const r = this.local();
    const d: DeadMessage = { type: 'dead', incarnation: r.incarnation, node: r.name, from: r.name };
    this.broadcasts.queue(`n:${r.name}`, encodeMessage(d), onSent);
    this.table.setState(r, 'left', this.clock.now());
  }

  private aliveAboutSelf(a: AliveMessage): void {
    const r = this.local();
    if (a.incarnation < r.incarnation) return;
    if (a.incarnation === r.incarnation && a.addr === r.addr && sameTags(a.tags, r.tags)) return;
    // Someone holds a different view of us at our incarnation or newer (a previous run of this node,
    // or an impostor): out-bid it so our current address and tags win.
    this.refute(r, a.incarnation);
  }

  private applyAlive(r: NodeRecord, a: AliveMessage): void {
    const prev = r.state;
    const tagsChanged = !sameTags(r.tags, a.tags) || r.addr !== a.addr;
    r.suspicion?.cancel();
    r.suspicion = undefined;
    r.incarnation = a.incarnation;
    r.addr = a.addr;
    r.tags = a.tags;
    r.protocol = a.protocol;
    this.table.setState(r, 'alive', this.clock.now());
    this.queueNode(r.name, a);
    if (prev === 'dead' || prev === 'left') this.emit('join', r);
    else if (prev === 'suspect') this.emit('alive', r);
    if (tagsChanged && prev !== 'dead' && prev !== 'left') this.emit('update', r);
  }

  private refute(r: NodeRecord, accused: number): void {
    r.incarnation = Math.max(r.incarnation, accused) + 1;
    this.table.setState(r, 'alive', this.clock.now());
    this.metrics.refutation();
    // Lifeguard: having to refute means others could not reach us in time; we may be the slow one.
    this.awareness.applyDelta(1);
    this.broadcastAlive(r);
  }

  private newSuspicion(r: NodeRecord, from: string): Suspicion {
    const n = this.table.liveCount();
    // Expect suspicionMult - 2 independent confirmations, unless the cluster is too small to give them.
    let k = this.cfg.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionTimeoutMs(this.cfg.suspicionMult, n, this.cfg.probeIntervalMs);
    const max = this.cfg.suspicionMaxTimeoutMult * min;
    const incarnation = r.incarnation;
    return new Suspicion(this.clock, from, k, min, max, () => {
      if (r.state !== 'suspect' || r.incarnation !== incarnation) return;
      this.log.info({ node: r.name, suspectedForMs: this.clock.now() - r.stateChangedAtMs }, 'suspicion timed out');
      const dead: DeadMessage = { type: 'dead', incarnation, node: r.name, from: this.cfg.nodeName };
      this.deadNode(dead);
      this.announce?.(dead);
    });
  }

  private broadcastAlive(r: NodeRecord): void {
    const a: AliveMessage = {
      type: 'alive', incarnation: r.incarnation, node: r.name, addr: r.addr, tags: r.tags, protocol: r.protocol,
    };
    this.queueNode(r.name, a);
  }

  private queueNode(name: string, msg: AliveMessage | SuspectMessage | DeadMessage): void {
    this.broadcasts.queue(`n:${name}`, encodeMessage(msg));
  }

  private emit(kind: MemberEventKind, r: NodeRecord): void {
    if (this.listeners.length === 0) return;
    const event: MemberEvent = { kind, member: snapshot(r) };
    for (const l of this.listeners.slice()) {
      try {
        l(event);
      } catch (err) {
        this.log.error({ err }, 'membership listener threw');
      }
    }
  }
}
