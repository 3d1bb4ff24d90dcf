/**
 * A SWIM + Lifeguard membership pool (hashicorp/memberlist's Memberlist): owns the transport, the
 * packet envelope, the receive queues and the periodic loops (probe, gossip, push-pull, reap,
 * reconnect), and wires the state machine (membership.ts), the prober (probe.ts), anti-entropy
 * (push-pull.ts) and queries (query.ts) together.
 *
 * Receive path: a datagram is opened (label, decryption), split into its messages and decoded. Pings
 * and acks are handled at once (their timing is what failure detection measures); membership messages
 * and user traffic go to two bounded queues drained on the next tick, membership first. Bad input is
 * counted by reason and dropped; nothing a peer sends can throw out of the receive handler.
 */
import type { Clock, TimerHandle } from '../core/clock';
import { type Logger, noopLogger, RateLimitedLog } from '../core/logger';
import type { Random } from '../core/random';
import { RingBuffer } from '../core/ring-buffer';
import { type Stream, type Transport, TransportError } from '../transport/transport';
import { Awareness } from './awareness';
import { BroadcastQueue } from './broadcast-queue';
import {
  CodecError, COMPOUND_HEADER_BYTES, COMPOUND_PART_OVERHEAD, decodeMessage, encodeCompound, encodeMessage,
  messageTypeName, splitBodyLenient,
} from './codec';
import { type GossipConfig, validateGossipConfig } from './config';
import type { GossipHost } from './host';
import type { Keyring } from './keyring';
import type { GossipDelegate, Member, MemberEvent, QueryHandler, QueryResponse } from './member';
import { Membership, tagsBytes } from './membership';
import { type Message, PROTOCOL_VERSION, type PushNodeState, type Tags } from './messages';
import { type DropReason, type GossipMetrics, noopGossipMetrics } from './metrics';
import { PacketSealer } from './packet';
import { Prober } from './probe';
import { mergeRemote, localPushPull, pushPull, pushPullScaleMs } from './push-pull';
import { Queries } from './query';
import { isLive, MemberTable, newRecord, snapshot } from './state';

/** Everything a memberlist needs, injected. */
export interface MemberlistOptions {
  config: GossipConfig;
  transport: Transport;
  clock: Clock;
  random: Random;
  logger?: Logger;
  metrics?: GossipMetrics;
  /** Installed keys; null or absent means no encryption. */
  keyring?: Keyring | null;
  /** This member's initial tags. */
  tags?: Tags;
  delegate?: GossipDelegate;
}

/** Result of a join attempt: how many seeds answered and why the others did not. */
export interface JoinResult {
  joined: number;
  errors: { addr: string; error: string }[];
}

/** How often dead and left members are checked for reaping, in ms. */
const REAP_CHECK_MS = 5_000;
/** Members told directly of a join, leave or failure (the rest learn by gossip). */
const DIRECT_ANNOUNCE_LIMIT = 64;
/** Inbound messages handled per drain before yielding the event loop. */
const DRAIN_BATCH = 256;

interface Queued {
  from: string;
  msg: Message;
}

/** A SWIM + Lifeguard membership pool. */
export class Memberlist implements GossipHost {
  readonly cfg: GossipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly metrics: GossipMetrics;
  readonly transport: Transport;
  readonly membership: Membership;
  private readonly sealer: PacketSealer;
  private readonly prober: Prober;
  private readonly queries: Queries;
  private readonly delegate: GossipDelegate | undefined;
  private readonly badInputLog: RateLimitedLog;
  private readonly highQueue: RingBuffer<Queued>;
  private readonly lowQueue: RingBuffer<Queued>;
  private readonly timers = new Map<string, TimerHandle>();
  private drainScheduled = false;
  private running = false;
  private initialTags: Tags;

  constructor(opts: MemberlistOptions) {
    const problems = validateGossipConfig(opts.config);
    if (problems.length > 0) {
      throw new Error(`invalid gossip configuration: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    }
    this.cfg = Object.freeze({ ...opts.config });
    this.clock = opts.clock;
    this.random = opts.random;
    this.transport = opts.transport;
    this.log = (opts.logger ?? noopLogger).child({ pool: this.cfg.label, node: this.cfg.nodeName });
    this.metrics = opts.metrics ?? noopGossipMetrics;
    this.delegate = opts.delegate;
    this.initialTags = Object.freeze({ ...(opts.tags ?? {}) });
    if (tagsBytes(this.initialTags) > this.cfg.maxTagsBytes) {
      throw new Error(`tags take ${tagsBytes(this.initialTags)} bytes; the limit is maxTagsBytes=${this.cfg.maxTagsBytes}`);
    }
    this.sealer = new PacketSealer({
      label: this.cfg.label, keyring: opts.keyring ?? null, verifyIncoming: this.cfg.gossipVerifyIncoming,
      verifyOutgoing: this.cfg.gossipVerifyOutgoing, clock: this.clock,
    });
    const table = new MemberTable(this.cfg.nodeName, this.random);
    const broadcasts = new BroadcastQueue(this.cfg.retransmitMult, () => table.liveCount());
    this.membership = new Membership(this.cfg, table, broadcasts, new Awareness(this.cfg.awarenessMaxMultiplier),
      this.clock, this.metrics, this.log);
    this.membership.announce = (msg) => this.announceDirect(msg);
    this.prober = new Prober(this);
    this.queries = new Queries(this);
    this.badInputLog = new RateLimitedLog(() => this.clock.now());
    this.highQueue = new RingBuffer(this.cfg.handoffQueueDepth);
    this.lowQueue = new RingBuffer(this.cfg.handoffQueueDepth);
  }

  /** Starts the transport and the probe, gossip, push-pull, reap and reconnect loops. */
  async start(): Promise<void> {
    await this.transport.start((from, data) => this.onPacket(from, data), (s) => void this.onStream(s));
    this.membership.bootstrap(this.transport.advertiseAddress, this.initialTags, PROTOCOL_VERSION);
    this.running = true;
    this.prober.start();
    this.every('gossip', () => this.cfg.gossipIntervalMs, () => this.gossip());
    if (this.cfg.pushPullIntervalMs > 0) {
      this.every('pushPull', () => pushPullScaleMs(this.cfg.pushPullIntervalMs, this.membership.table.liveCount()),
        () => this.periodicPushPull());
    }
    this.every('reap', () => REAP_CHECK_MS, () => this.membership.reap());
    this.every('reconnect', () => this.cfg.reconnectIntervalMs, () => this.reconnect());
    this.log.info({ addr: this.transport.advertiseAddress, encrypted: this.sealer.keyring !== null }, 'gossip started');
  }

  /** Push-pulls with each address; resolves when every attempt finished. */
  async join(addrs: string[]): Promise<JoinResult> {
    const result: JoinResult = { joined: 0, errors: [] };
    await Promise.all(addrs.map(async (addr) => {
      try {
        await pushPull(this, this.delegate, addr, true);
        result.joined++;
      } catch (err) {
        result.errors.push({ addr, error: errorText(err) });
      }
    }));
    if (result.joined > 0) {
      this.log.info({ joined: result.joined, members: this.numAlive() }, 'joined cluster');
      this.announceDirect(this.aliveSelf());
    }
    return result;
  }

  /** Broadcasts a graceful leave and waits until it went out or `leavePropagateDelayMs` passed. */
  async leave(): Promise<void> {
    if (!this.running || this.membership.leaving) return;
    if (this.numAlive() <= 1) {
      // Nobody to tell: record our own departure and return without waiting.
      this.membership.announceLeave(() => {});
      this.log.info({}, 'left the cluster (no other members)');
      return;
    }
    let sent!: () => void;
    const done = new Promise<void>((resolve) => { sent = resolve; });
    this.membership.announceLeave(() => sent());
    const local = this.membership.local();
    this.announceDirect({ type: 'dead', incarnation: local.incarnation, node: local.name, from: local.name });
    // Push the queued broadcasts out now rather than waiting for the next gossip tick.
    this.gossip();
    const timeout = this.clock.sleep(this.cfg.leavePropagateDelayMs);
    await Promise.race([Promise.all([done, this.clock.sleep(Math.min(200, this.cfg.leavePropagateDelayMs))]), timeout]);
    this.log.info({}, 'left the cluster');
  }

  /** Stops every loop and closes the transport. */
  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.timers.values()) this.clock.clearTimer(t);
    this.timers.clear();
    this.prober.stop();
    this.queries.stop();
    for (const r of this.membership.table.all()) r.suspicion?.cancel();
    this.membership.broadcasts.reset();
    this.highQueue.clear();
    this.lowQueue.clear();
    await this.transport.close();
  }

  /** Snapshots of every known member, dead and left included, sorted by name. */
  members(): Member[] {
    return this.membership.table.all().map(snapshot).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One member's snapshot, or undefined. */
  member(name: string): Member | undefined {
    const r = this.membership.table.get(name);
    return r ? snapshot(r) : undefined;
  }

  /** This node's snapshot. */
  localMember(): Member {
    return snapshot(this.membership.local());
  }

  /** Alive plus suspect members, this node included. */
  numAlive(): number {
    return this.membership.table.liveCount();
  }

  /** Lifeguard local health score, 0 (healthy) to awarenessMaxMultiplier - 1. */
  healthScore(): number {
    return this.membership.awareness.getScore();
  }

  /** Replaces this node's tags and disseminates them; throws if they exceed maxTagsBytes. */
  setTags(tags: Tags): void {
    const frozen = Object.freeze({ ...tags });
    const size = tagsBytes(frozen);
    if (size > this.cfg.maxTagsBytes) throw new Error(`tags take ${size} bytes; the limit is maxTagsBytes=${this.cfg.maxTagsBytes}`);
    if (!this.running) {
      this.initialTags = frozen;
      return;
    }
    this.membership.setLocalTags(frozen);
  }

  /**
   * Queues an application broadcast, delivered to the delegate.notifyUser of the members it reaches
   * (it is not relayed: a delegate that wants epidemic spread re-broadcasts what it receives). A
   * broadcast with the same `key` replaces a queued one. The encoded message must fit a datagram.
   */
  broadcastUser(payload: Uint8Array, key?: string): void {
    const msg = encodeMessage({ type: 'user', payload });
    const room = this.cfg.udpBufferSize - this.sealer.overheadBytes() - COMPOUND_HEADER_BYTES - COMPOUND_PART_OVERHEAD;
    if (msg.length > room) throw new Error(`user broadcast of ${msg.length} bytes exceeds the ${room}-byte datagram budget`);
    this.membership.broadcasts.queue(`u:${key ?? this.random.int(0x100000000)}`, msg);
  }

  /** Largest payload `broadcastUser` accepts, in bytes (the datagram budget minus framing). */
  maxUserBroadcastBytes(): number {
    // msgpack adds at most 5 bytes (bin32 header) plus the type byte and the fixed array header.
    return this.cfg.udpBufferSize - this.sealer.overheadBytes() - COMPOUND_HEADER_BYTES - COMPOUND_PART_OVERHEAD - 8;
  }

  /** Sends `payload` to the member at `addr` over a stream and resolves with its delegate's answer. */
  async request(addr: string, payload: Uint8Array, timeoutMs = this.cfg.tcpTimeoutMs): Promise<Uint8Array> {
    const reply = await this.exchange(addr, { type: 'user', payload }, timeoutMs, true);
    if (reply?.type !== 'user') throw new Error(`request to ${addr}: peer answered ${reply?.type ?? 'nothing'}`);
    return reply.payload;
  }

  /** Asks every alive member; resolves with the answers received before the timeout or once all answered. */
  query(name: string, payload: Uint8Array, opts: { timeoutMs: number }): Promise<QueryResponse[]> {
    return this.queries.query(name, payload, opts.timeoutMs);
  }

  /** Registers the answer to queries called `name` (one handler per name). */
  onQuery(name: string, handler: QueryHandler): void {
    this.queries.onQuery(name, handler);
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  on(listener: (event: MemberEvent) => void): () => void {
    return this.membership.on(listener);
  }

  /** The keyring in use (mutated in place by keyring operations), or null. */
  get keyring(): Keyring | null {
    return this.sealer.keyring;
  }

  /** Turns encryption on (or off, with null) for future packets. */
  setKeyring(keyring: Keyring | null): void {
    this.sealer.setKeyring(keyring);
  }

  /** Changes the gossip_verify_incoming / gossip_verify_outgoing toggles at run time. */
  setVerify(incoming: boolean, outgoing: boolean): void {
    this.sealer.setVerify(incoming, outgoing);
  }

  /**
   * Adds members from a trusted snapshot without re-broadcasting them, as if a push-pull had already
   * converged. Simulations of thousands of members start from a converged view this way; a real agent
   * learns members through join and push-pull instead.
   */
  restoreMembers(nodes: readonly PushNodeState[]): void {
    const table = this.membership.table;
    for (const n of nodes) {
      if (n.name === this.cfg.nodeName || table.get(n.name)) continue;
      table.add(newRecord(n.name, n.addr, n.tags, n.state, n.incarnation, n.protocol, this.clock.now()));
    }
  }

  /** Broadcasts waiting to be sent (for tests and metrics). */
  pendingBroadcasts(): number {
    return this.membership.broadcasts.size();
  }

  // ---- GossipHost ----

  localAddr(): string {
    return this.transport.advertiseAddress;
  }

  sendPacket(addr: string, msgs: Message[]): void {
    if (!this.running) return;
    const parts = msgs.map((m) => encodeMessage(m));
    let used = COMPOUND_HEADER_BYTES;
    for (const p of parts) used += p.length + COMPOUND_PART_OVERHEAD;
    const budget = this.cfg.udpBufferSize - this.sealer.overheadBytes() - used;
    if (budget > COMPOUND_PART_OVERHEAD) parts.push(...this.membership.broadcasts.take(COMPOUND_PART_OVERHEAD, budget));
    this.sendParts(addr, parts);
  }

  async exchange(addr: string, msg: Message, timeoutMs: number, expectReply: boolean): Promise<Message | undefined> {
    const stream = await this.transport.dialStream(addr, timeoutMs);
    try {
      this.sendFrame(stream, msg);
      if (!expectReply) return undefined;
      let frame: Buffer;
      try {
        frame = await stream.receive(timeoutMs);
      } catch (err) {
        if (err instanceof TransportError && err.reason === 'closed') {
          // A peer that cannot open our frame closes without a word: say what that usually means.
          throw new Error(`${addr} closed the connection without answering: check that both sides use the same gossip key (encrypt) and datacenter`);
        }
        throw err;
      }
      return this.openFrame(stream.remoteAddress, frame);
    } finally {
      stream.close();
    }
  }

  // ---- sending ----

  private sendParts(addr: string, parts: Buffer[]): void {
    if (parts.length === 0) return;
    // A compound holds at most 255 messages; the UDP budget keeps us far below that in practice.
    const body = parts.length === 1 ? parts[0]! : encodeCompound(parts.slice(0, 255));
    for (const p of parts) this.metrics.messageOut(messageTypeName(p), p.length);
    const packet = this.sealer.seal(body);
    this.metrics.wireBytes('out', 'udp', packet.length);
    try {
      this.transport.sendPacket(addr, packet);
    } catch (err) {
      this.log.warn({ addr, err: errorText(err) }, 'failed to send gossip packet');
    }
  }

  private sendFrame(stream: Stream, msg: Message): void {
    const body = encodeMessage(msg);
    this.metrics.messageOut(msg.type, body.length);
    const frame = this.sealer.seal(body);
    this.metrics.wireBytes('out', 'tcp', frame.length);
    stream.send(frame);
  }

  // ---- receiving ----

  private onPacket(from: string, data: Buffer): void {
    if (!this.running) return;
    this.metrics.wireBytes('in', 'udp', data.length);
    let parts: Uint8Array[];
    try {
      const body = this.sealer.open(data);
      const split = splitBodyLenient(body);
      if (split.truncated) this.dropped('truncated', 'udp', from);
      parts = split.parts;
    } catch (err) {
      this.dropped(reasonOf(err), 'udp', from, err);
      return;
    }
    for (const part of parts) {
      let msg: Message;
      try {
        msg = decodeMessage(part);
      } catch (err) {
        this.dropped(reasonOf(err), 'udp', from, err);
        continue;
      }
      this.metrics.messageIn(msg.type, part.length);
      this.dispatchPacket(from, msg);
    }
  }

  private dispatchPacket(from: string, msg: Message): void {
    switch (msg.type) {
      case 'ping': return this.prober.handlePing(from, msg);
      case 'indirectPing': return this.prober.handleIndirectPing(from, msg);
      case 'ack': return this.prober.handleAck(msg);
      case 'nack': return this.prober.handleNack(msg);
      case 'alive':
      case 'suspect':
      case 'dead':
        return this.enqueue(this.highQueue, from, msg);
      case 'user':
      case 'query':
      case 'queryResponse':
        return this.enqueue(this.lowQueue, from, msg);
      case 'pushPull':
        return this.dropped('unexpected', 'udp', from);
    }
  }

  private enqueue(queue: RingBuffer<Queued>, from: string, msg: Message): void {
    if (!queue.push({ from, msg })) {
      this.dropped('queue_full', 'udp', from);
      return;
    }
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.clock.setTimer(0, () => this.drain());
    }
  }

  /** Handles queued messages, membership first, in bounded batches. */
  private drain(): void {
    this.drainScheduled = false;
    for (let i = 0; i < DRAIN_BATCH && this.running; i++) {
      const item = this.highQueue.shift() ?? this.lowQueue.shift();
      if (!item) return;
      this.handleQueued(item.msg);
    }
    if (this.highQueue.length + this.lowQueue.length > 0 && this.running) {
      this.drainScheduled = true;
      this.clock.setTimer(0, () => this.drain());
    }
  }

  private handleQueued(msg: Message): void {
    const m = this.membership;
    switch (msg.type) {
      case 'alive':
        if (msg.protocol < 1) return this.metrics.dropped('version', 'udp');
        return m.aliveNode(msg);
      case 'suspect': return m.suspectNode(msg);
      case 'dead': return m.deadNode(msg);
      case 'user': return this.notifyUser(msg.payload);
      case 'query': return this.queries.handleQuery(msg);
      case 'queryResponse': return this.queries.handleResponse(msg);
      default: return undefined;
    }
  }

  private notifyUser(payload: Uint8Array): void {
    try {
      this.delegate?.notifyUser?.(payload);
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'delegate failed to handle a user message');
    }
  }

  /** Serves one inbound stream: one request frame, at most one answer, then close. */
  private async onStream(stream: Stream): Promise<void> {
    try {
      const frame = await stream.receive(this.cfg.tcpTimeoutMs);
      const msg = this.openFrame(stream.remoteAddress, frame);
      if (!msg || !this.running) return;
      switch (msg.type) {
        case 'pushPull':
          // Merge first, then answer: if the peer thought us dead we refute now, and our answer
          // already carries the new incarnation, which heals a partition in one exchange.
          mergeRemote(this, this.delegate, msg);
          this.sendFrame(stream, localPushPull(this, this.delegate, msg.join));
          return;
        case 'ping': {
          const ack = this.prober.pingReply(msg);
          if (ack) this.sendFrame(stream, ack);
          return;
        }
        case 'queryResponse': return this.queries.handleResponse(msg);
        case 'user': {
          if (!this.delegate?.handleRequest) return this.notifyUser(msg.payload);
          const answer = await this.delegate.handleRequest(msg.payload);
          if (answer !== undefined && this.running) this.sendFrame(stream, { type: 'user', payload: answer });
          return;
        }
        default:
          this.dropped('unexpected', 'tcp', stream.remoteAddress);
      }
    } catch (err) {
      if (err instanceof CodecError) this.dropped(err.reason, 'tcp', stream.remoteAddress, err);
      // The transport refused a frame over its size bound and destroyed the stream: a dropped input too.
      else if (err instanceof TransportError && err.reason === 'oversize') this.dropped('oversize', 'tcp', stream.remoteAddress, err);
      else this.log.debug({ peer: stream.remoteAddress, err: errorText(err) }, 'inbound stream failed');
    } finally {
      stream.close();
    }
  }

  private openFrame(from: string, frame: Buffer): Message | undefined {
    this.metrics.wireBytes('in', 'tcp', frame.length);
    try {
      const body = this.sealer.open(frame);
      const msg = decodeMessage(body);
      this.metrics.messageIn(msg.type, body.length);
      return msg;
    } catch (err) {
      this.dropped(reasonOf(err), 'tcp', from, err);
      return undefined;
    }
  }

  private dropped(reason: DropReason, channel: 'udp' | 'tcp', from: string, err?: unknown): void {
    this.metrics.dropped(reason, channel);
    const suppressed = this.badInputLog.admit(`${reason}/${channel}/${from}`);
    if (suppressed < 0) return;
    const fields = { peer: from, channel, reason, suppressed, detail: err === undefined ? undefined : errorText(err) };
    // Wrong keys and wrong labels are operator mistakes worth a warning; the rest is noise or attack.
    if (reason === 'decrypt' || reason === 'label' || reason === 'encrypted' || reason === 'unencrypted') {
      this.log.warn(fields, explainDrop(reason));
    } else {
      this.log.debug(fields, 'dropped gossip input');
    }
  }

  // ---- periodic work ----

  private every(name: string, intervalMs: () => number, fn: () => void): void {
    const run = (): void => {
      if (!this.running) return;
      try {
        fn();
      } catch (err) {
        // Our own bug: log loudly, but keep the loop alive rather than silently stopping membership.
        this.log.error({ loop: name, err: errorText(err) }, 'gossip loop iteration failed');
      }
      this.timers.set(name, this.clock.setTimer(intervalMs(), run));
    };
    // Random phase so co-started agents do not fire in lockstep.
    this.timers.set(name, this.clock.setTimer(this.random.float() * intervalMs(), run));
  }

  /**
   * Sends a join, leave or failure announcement straight to up to DIRECT_ANNOUNCE_LIMIT random live
   * members, besides queueing it for gossip. Gossip alone sends each update retransmitMult x
   * ceil(log10(N+1)) times per member, which in a small cluster misses one member in a few percent of
   * cases for longer than an operator expects; these events are rare, so one datagram per member is
   * cheap.
   */
  private announceDirect(msg: Message): void {
    const targets = this.membership.table.randomMembers(DIRECT_ANNOUNCE_LIMIT, (r) => r.state === 'alive');
    for (const t of targets) this.sendPacket(t.addr, [msg]);
  }

  private aliveSelf(): Message {
    const r = this.membership.local();
    return { type: 'alive', incarnation: r.incarnation, node: r.name, addr: r.addr, tags: r.tags, protocol: r.protocol };
  }

  /** One gossip round: broadcasts to a few random members, including recently dead ones. */
  private gossip(): void {
    if (this.membership.broadcasts.size() === 0) return;
    const now = this.clock.now();
    const targets = this.membership.table.randomMembers(this.cfg.gossipNodes, (r) =>
      isLive(r.state) || (r.state === 'dead' && now - r.stateChangedAtMs < this.cfg.gossipToTheDeadMs));
    const budget = this.cfg.udpBufferSize - this.sealer.overheadBytes() - COMPOUND_HEADER_BYTES;
    for (const t of targets) {
      const parts = this.membership.broadcasts.take(COMPOUND_PART_OVERHEAD, budget);
      if (parts.length === 0) return;
      this.sendParts(t.addr, parts);
    }
  }

  private periodicPushPull(): void {
    const [peer] = this.membership.table.randomMembers(1, (r) => r.state === 'alive');
    if (!peer) return;
    pushPull(this, this.delegate, peer.addr, false).catch((err: unknown) =>
      this.log.debug({ peer: peer.name, err: errorText(err) }, 'periodic push-pull failed'));
  }

  /** Tries one failed member, so partitions heal once the network does (serf's reconnect). */
  private reconnect(): void {
    const failed = this.membership.table.goneMembers().filter((r) => r.state === 'dead');
    if (failed.length === 0) return;
    const peer = failed[this.random.int(failed.length)]!;
    pushPull(this, this.delegate, peer.addr, false).then(
      () => this.log.info({ peer: peer.name }, 'reconnected to a failed member'),
      () => { /* still unreachable: normal for a really dead member */ },
    );
  }
}

function reasonOf(err: unknown): DropReason {
  return err instanceof CodecError ? err.reason : 'malformed';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function explainDrop(reason: DropReason): string {
  switch (reason) {
    case 'decrypt': return 'dropped gossip from a peer whose packets no installed key decrypts (wrong or missing gossip key)';
    case 'label': return 'dropped gossip carrying another cluster label (the peer belongs to a different datacenter or pool)';
    case 'encrypted': return 'dropped encrypted gossip: this agent has no gossip key (set encrypt)';
    case 'unencrypted': return 'dropped unencrypted gossip: encryption is required (encrypt_verify_incoming)';
    default: return 'dropped gossip input';
  }
}
