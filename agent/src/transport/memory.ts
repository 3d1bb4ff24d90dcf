/**
 * An in-memory network for tests and simulations of thousands of nodes on a `VirtualClock`
 * (memberlist ships `mock_transport.go`; this one adds the knobs a failure detector is judged by:
 * latency, jitter, loss, partitions, crashes and slow nodes). Delivery is always asynchronous, via
 * one clock timer per datagram or frame, so a handler never runs inside the sender's call.
 *
 * The model: datagrams may be lost, delayed and reordered. Streams are reliable and ordered, like
 * TCP, until a partition or a crash cuts them: a frame dropped there breaks the direction for good
 * (TCP never delivers past a gap), so the peer's receive times out. A crashed or partitioned host
 * answers nothing, so dials to it time out; a reachable address with no transport refuses at once.
 * Buffers are never copied: receivers must treat data as read-only.
 *
 * Handler exceptions propagate out of `clock.advance`, so a simulation bug fails loudly.
 */
import type { Clock, TimerHandle } from '../core/clock';
import type { Random } from '../core/random';
import {
  splitHostPort,
  TransportError,
  type PacketHandler,
  type Stream,
  type StreamHandler,
  type Transport,
} from './transport';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_PACKET_BYTES } from './udp-tcp';

/** Options of `MemoryNetwork`. */
export interface MemoryNetworkOptions {
  /** Schedules every delivery; normally a `VirtualClock`. */
  clock: Clock;
  /** Draws loss and jitter, so a `SeededRandom` makes runs reproducible. */
  random: Random;
  /** One-way delay of every datagram, frame and handshake leg, in ms; default 0.5 (a LAN). */
  latencyMs?: number;
  /** Extra uniform delay in [0, jitterMs) per datagram, frame or handshake leg, in ms; default 0. */
  jitterMs?: number;
  /** Probability that a datagram is lost, 0..1; default 0. Streams are reliable (TCP retransmits). */
  loss?: number;
}

/** Per-node bounds, enforced like the real transport's. */
export interface MemoryTransportOptions {
  /** Largest datagram sent, or kept on arrival, in bytes; default 65507. */
  maxPacketBytes?: number;
  /** Largest stream frame sent, or accepted on arrival, in bytes; default 16 MiB. */
  maxFrameBytes?: number;
}

/** A node's transport on a `MemoryNetwork`. */
export interface MemoryTransport extends Transport {
  /** The node's `host:port`; equal to `advertiseAddress`. */
  readonly address: string;
}

/** Network-wide counters. Bytes are payload bytes of datagrams and stream frames. */
export interface MemoryNetworkStats {
  /** Datagrams sent by live nodes (lost ones included). */
  packetsSent: number;
  /** Datagrams handed to a packet handler. */
  packetsDelivered: number;
  /** Datagrams lost, partitioned, oversize for the receiver, or sent to a dead or absent node. */
  packetsDropped: number;
  /** Payload bytes of datagrams and frames sent by live nodes. */
  bytesSent: number;
  /** Stream frames sent. */
  framesSent: number;
  /** Stream frames queued at the receiving stream. */
  framesDelivered: number;
  /** Stream frames cut by a partition or crash, oversize for the receiver, or arriving after close. */
  framesDropped: number;
}

/** Everything known about one transport; shared by the fabric, the transport and its streams. */
interface Node {
  readonly address: string;
  readonly maxPacketBytes: number;
  readonly maxFrameBytes: number;
  /** Per-address byte counter, shared by successive transports at the address. */
  readonly sent: { bytes: number };
  state: 'new' | 'started' | 'closed';
  crashed: boolean;
  onPacket: PacketHandler;
  onStream: StreamHandler;
  readonly streams: Set<MemoryStream>;
  readonly dials: Set<Dial>;
}

interface Dial {
  readonly src: Node;
  readonly resolve: (stream: Stream) => void;
  readonly reject: (err: Error) => void;
  timer: TimerHandle | undefined;
}

interface Waiter {
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
}

/** A simulated network: create one per test or simulation, then one transport per node. */
export class MemoryNetwork {
  private readonly fabric: Fabric;

  constructor(options: MemoryNetworkOptions) {
    this.fabric = new Fabric(options.clock, options.random);
    this.setLatency(options.latencyMs ?? 0.5, options.jitterMs ?? 0);
    this.setLoss(options.loss ?? 0);
  }

  /** Creates a node at `address` (`host:port`); it binds on `start`, failing if the address is taken. */
  transport(address: string, options: MemoryTransportOptions = {}): MemoryTransport {
    splitHostPort(address);
    return new NodeTransport(this.fabric, {
      address,
      maxPacketBytes: options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      sent: this.fabric.counterFor(address),
      state: 'new',
      crashed: false,
      onPacket: () => {},
      onStream: (stream) => stream.close(),
      streams: new Set(),
      dials: new Set(),
    });
  }

  /** Sets the network-wide datagram loss probability, 0..1. */
  setLoss(p: number): void {
    this.fabric.loss = probability('loss', p);
  }

  /** Sets the one-way latency and, when given, the jitter, in ms. */
  setLatency(ms: number, jitterMs?: number): void {
    this.fabric.latencyMs = nonNegative('latencyMs', ms);
    if (jitterMs !== undefined) this.fabric.jitterMs = nonNegative('jitterMs', jitterMs);
  }

  /**
   * Extra datagram loss on the link between `a` and `b`, both directions, on top of the network-wide
   * loss: a datagram survives with probability (1 - loss) x (1 - p). 0 removes the override.
   */
  setLinkLoss(a: string, b: string, p: number): void {
    this.fabric.setLinkLoss(a, b, probability('loss', p));
    this.fabric.setLinkLoss(b, a, p);
  }

  /**
   * Cuts every link between a member of `groupA` and a member of `groupB`, both directions, for
   * datagrams, dials and frames on open streams. Addresses in neither group keep all their links.
   * Partitions accumulate until `heal`.
   */
  partition(groupA: string[], groupB: string[]): void {
    this.fabric.partitions.push([new Set(groupA), new Set(groupB)]);
  }

  /** Removes every partition. Streams broken by a partition stay broken. */
  heal(): void {
    this.fabric.partitions = [];
  }

  /** The slow-node knob: everything delivered to `address` reaches its handlers `ms` later. 0 clears. */
  setProcessingDelay(address: string, ms: number): void {
    if (nonNegative('processing delay', ms) === 0) this.fabric.processingDelay.delete(address);
    else this.fabric.processingDelay.set(address, ms);
  }

  /**
   * Kills the node at `address` like kill -9 on an unreachable host: it stops sending and receiving,
   * its side of every open stream is closed, and peers hear nothing (their receives time out).
   */
  crash(address: string): void {
    this.fabric.crash(address);
  }

  /** Brings a crashed node back; its broken streams stay broken, new traffic flows. */
  restart(address: string): void {
    this.fabric.bound(address).crashed = false;
  }

  /** Network-wide counters. */
  stats(): MemoryNetworkStats {
    return { ...this.fabric.stats };
  }

  /** Payload bytes sent from `address` (datagrams and frames), over every transport it has had. */
  bytesSentBy(address: string): number {
    return this.fabric.counterFor(address).bytes;
  }
}

/** The routing core behind `MemoryNetwork`: knobs, bound nodes and the delivery paths. */
class Fabric {
  latencyMs = 0;
  jitterMs = 0;
  loss = 0;
  partitions: Array<[ReadonlySet<string>, ReadonlySet<string>]> = [];
  readonly processingDelay = new Map<string, number>();
  readonly stats: MemoryNetworkStats = {
    packetsSent: 0, packetsDelivered: 0, packetsDropped: 0, bytesSent: 0,
    framesSent: 0, framesDelivered: 0, framesDropped: 0,
  };
  /** Started, unclosed nodes by address. */
  private readonly nodes = new Map<string, Node>();
  private readonly counters = new Map<string, { bytes: number }>();
  private readonly linkLoss = new Map<string, Map<string, number>>();

  constructor(
    readonly clock: Clock,
    private readonly random: Random,
  ) {}

  counterFor(address: string): { bytes: number } {
    let counter = this.counters.get(address);
    if (!counter) this.counters.set(address, (counter = { bytes: 0 }));
    return counter;
  }

  bound(address: string): Node {
    const node = this.nodes.get(address);
    if (!node) throw new Error(`no started transport at ${address}`);
    return node;
  }

  bind(node: Node): void {
    if (this.nodes.has(node.address)) {
      throw new TransportError('bind', `cannot bind gossip to ${node.address}: EADDRINUSE`);
    }
    this.nodes.set(node.address, node);
    node.state = 'started';
  }

  unbind(node: Node): void {
    if (this.nodes.get(node.address) === node) this.nodes.delete(node.address);
    node.state = 'closed';
    for (const stream of node.streams) stream.close();
    for (const dial of node.dials) this.settleDial(dial, new TransportError('closed', 'transport closed'));
  }

  crash(address: string): void {
    const node = this.bound(address);
    node.crashed = true;
    for (const stream of node.streams) stream.teardown(new TransportError('closed', `${address} crashed`));
    node.streams.clear();
  }

  setLinkLoss(a: string, b: string, p: number): void {
    let links = this.linkLoss.get(a);
    if (p === 0) {
      links?.delete(b);
      if (links?.size === 0) this.linkLoss.delete(a);
      return;
    }
    if (!links) this.linkLoss.set(a, (links = new Map()));
    links.set(b, p);
  }

  sendPacket(src: Node, to: string, data: Uint8Array): void {
    if (data.length > src.maxPacketBytes) {
      throw new TransportError('oversize', `packet of ${data.length} bytes exceeds maxPacketBytes ${src.maxPacketBytes}`);
    }
    if (src.state !== 'started' || src.crashed) return; // an unbound or dead process sends nothing
    this.countSent(src, data.length);
    this.stats.packetsSent++;
    const dest = this.nodes.get(to);
    if (dest === undefined || this.blocked(src.address, to) || this.lost(src.address, to)) {
      this.stats.packetsDropped++;
      return;
    }
    const buf = asBuffer(data);
    const from = src.address;
    this.clock.setTimer(this.delayTo(to), () => this.deliverPacket(dest, from, buf));
  }

  dial(src: Node, to: string, timeoutMs: number): Promise<Stream> {
    if (src.state === 'closed') return Promise.reject(new TransportError('closed', 'transport is closed'));
    return new Promise<Stream>((resolve, reject) => {
      const dial: Dial = { src, resolve, reject, timer: undefined };
      dial.timer = this.clock.setTimer(timeoutMs, () =>
        this.settleDial(dial, new TransportError('timeout', `dial ${to} timed out after ${timeoutMs} ms`)),
      );
      src.dials.add(dial);
      if (src.crashed || this.blocked(src.address, to)) return; // the SYN never arrives
      this.clock.setTimer(this.delayTo(to), () => this.onSyn(dial, to));
    });
  }

  /**
   * Sends a frame, or the close (FIN) when `frame` is null, from `side` to its peer. Arrival times
   * never decrease along one direction, so frames stay ordered even with jitter.
   */
  sendFrame(side: MemoryStream, frame: Buffer | null): void {
    const src = side.node;
    const dest = side.peer.node;
    if (src.crashed) return;
    if (frame) {
      this.countSent(src, frame.length);
      this.stats.framesSent++;
    }
    if (side.broken || this.blocked(src.address, dest.address)) {
      side.broken = true;
      if (frame) this.stats.framesDropped++;
      return;
    }
    const now = this.clock.now();
    const arrival = Math.max(now + this.delayTo(dest.address), side.lastArrivalMs);
    side.lastArrivalMs = arrival;
    this.clock.setTimer(arrival - now, () => this.deliverFrame(side.peer, frame));
  }

  private deliverPacket(dest: Node, from: string, data: Buffer): void {
    if (dest.state !== 'started' || dest.crashed || data.length > dest.maxPacketBytes) {
      this.stats.packetsDropped++;
      return;
    }
    this.stats.packetsDelivered++;
    dest.onPacket(from, data);
  }

  private deliverFrame(side: MemoryStream, frame: Buffer | null): void {
    if (side.failure || side.node.crashed) {
      if (frame) this.stats.framesDropped++;
      return;
    }
    if (frame === null) {
      side.fail(new TransportError('closed', `${side.remoteAddress} closed the stream`));
    } else if (frame.length > side.node.maxFrameBytes) {
      this.stats.framesDropped++;
      const max = side.node.maxFrameBytes;
      side.reset(new TransportError('oversize', `${side.remoteAddress} sent a frame of ${frame.length} bytes, over ${max}`));
    } else {
      this.stats.framesDelivered++;
      side.push(frame);
    }
  }

  /** The SYN reaches `to`: refuse, stay silent, or accept and answer with the SYN-ACK. */
  private onSyn(dial: Dial, to: string): void {
    const src = dial.src;
    if (!src.dials.has(dial)) return;
    const dest = this.nodes.get(to);
    if (dest?.crashed || this.blocked(to, src.address)) return;
    const back = this.delayTo(src.address);
    if (dest === undefined) {
      this.clock.setTimer(back, () => this.settleDial(dial, new TransportError('refused', `dial ${to} refused`)));
      return;
    }
    const client = new MemoryStream(src, to, this);
    const server = new MemoryStream(dest, src.address, this);
    client.peer = server;
    server.peer = client;
    dest.streams.add(server);
    this.clock.setTimer(back, () => this.onSynAck(dial, client));
    dest.onStream(server);
  }

  private onSynAck(dial: Dial, client: MemoryStream): void {
    if (dial.src.crashed) return; // the dial times out; the server side hears nothing more
    if (!dial.src.dials.has(dial)) {
      client.close(); // the dialer gave up: tell the server side
      return;
    }
    dial.src.streams.add(client);
    this.settleDial(dial, undefined, client);
  }

  private settleDial(dial: Dial, err: TransportError | undefined, stream?: Stream): void {
    if (!dial.src.dials.delete(dial)) return;
    this.clock.clearTimer(dial.timer);
    if (err) dial.reject(err);
    else dial.resolve(stream!);
  }

  private countSent(src: Node, bytes: number): void {
    this.stats.bytesSent += bytes;
    src.sent.bytes += bytes;
  }

  private delayTo(to: string): number {
    let delay = this.latencyMs;
    if (this.jitterMs > 0) delay += this.random.float() * this.jitterMs;
    if (this.processingDelay.size > 0) delay += this.processingDelay.get(to) ?? 0;
    return delay;
  }

  private blocked(a: string, b: string): boolean {
    for (const [x, y] of this.partitions) {
      if ((x.has(a) && y.has(b)) || (y.has(a) && x.has(b))) return true;
    }
    return false;
  }

  private lost(a: string, b: string): boolean {
    let p = this.loss;
    if (this.linkLoss.size > 0) {
      const link = this.linkLoss.get(a)?.get(b);
      if (link !== undefined) p = 1 - (1 - p) * (1 - link);
    }
    return p > 0 && this.random.float() < p;
  }
}

/** The `Transport` of one simulated node. */
class NodeTransport implements MemoryTransport {
  readonly address: string;
  readonly advertiseAddress: string;
  readonly maxPacketBytes: number;
  readonly maxFrameBytes: number;

  constructor(
    private readonly fabric: Fabric,
    private readonly node: Node,
  ) {
    this.address = node.address;
    this.advertiseAddress = node.address;
    this.maxPacketBytes = node.maxPacketBytes;
    this.maxFrameBytes = node.maxFrameBytes;
  }

  async start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void> {
    if (this.node.state !== 'new') throw new Error('MemoryTransport.start called twice');
    this.node.onPacket = onPacket;
    this.node.onStream = onStream;
    this.fabric.bind(this.node);
  }

  sendPacket(to: string, data: Uint8Array): void {
    this.fabric.sendPacket(this.node, to, data);
  }

  dialStream(to: string, timeoutMs: number): Promise<Stream> {
    return this.fabric.dial(this.node, to, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.node.state !== 'closed') this.fabric.unbind(this.node);
  }
}

/** One side of a simulated TCP connection. */
class MemoryStream implements Stream {
  /** The other side; set by the fabric right after constructing the pair. */
  peer!: MemoryStream;
  /** Why receives fail once the queue is drained: peer close, reset, oversize, crash or close(). */
  failure: TransportError | undefined;
  /** A frame we sent was dropped; TCP never delivers past a gap, so every later one is dropped too. */
  broken = false;
  /** When our latest frame reaches the peer; later frames never overtake it. */
  lastArrivalMs = 0;
  /** We sent our FIN or RST, or were torn down; nothing more leaves this side. */
  private finished = false;
  private readonly frames: Buffer[] = [];
  private waiter: Waiter | undefined;

  constructor(
    readonly node: Node,
    readonly remoteAddress: string,
    private readonly fabric: Fabric,
  ) {}

  send(frame: Uint8Array): void {
    if (this.failure) throw new TransportError('closed', `stream to ${this.remoteAddress} is closed`);
    if (frame.length > this.node.maxFrameBytes) {
      throw new TransportError('oversize', `frame of ${frame.length} bytes exceeds maxFrameBytes ${this.node.maxFrameBytes}`);
    }
    this.fabric.sendFrame(this, asBuffer(frame));
  }

  receive(timeoutMs: number): Promise<Buffer> {
    if (this.frames.length > 0) return Promise.resolve(this.frames.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error(`a receive on the stream to ${this.remoteAddress} is already pending`));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.fabric.clock.setTimer(timeoutMs, this.onReceiveTimeout);
      this.waiter = { resolve, reject, timer };
    });
  }

  close(): void {
    const wasFinished = this.finished;
    this.teardown(new TransportError('closed', `stream to ${this.remoteAddress} closed`));
    if (!wasFinished) this.fabric.sendFrame(this, null);
  }

  /** Local end without telling the peer (crash), or the first step of close(). */
  teardown(reason: TransportError): void {
    this.finished = true;
    this.failure = reason;
    this.frames.length = 0;
    this.settle();
    this.node.streams.delete(this);
  }

  /** Destroys this side and resets the peer (after an oversize frame, as the real transport does). */
  reset(reason: TransportError): void {
    this.fail(reason);
    if (!this.finished) {
      this.finished = true;
      this.fabric.sendFrame(this, null);
    }
  }

  /** Queues a frame that arrived, or hands it to the pending receive. */
  push(frame: Buffer): void {
    this.frames.push(frame);
    this.settle();
  }

  /** Receives fail with `reason` once queued frames are read. */
  fail(reason: TransportError): void {
    this.failure ??= reason;
    this.settle();
  }

  private settle(): void {
    const w = this.waiter;
    if (!w || (this.frames.length === 0 && !this.failure)) return;
    this.waiter = undefined;
    this.fabric.clock.clearTimer(w.timer);
    if (this.frames.length > 0) w.resolve(this.frames.shift()!);
    else w.reject(this.failure!);
  }

  private readonly onReceiveTimeout = (): void => {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    w.reject(new TransportError('timeout', `no frame from ${this.remoteAddress} in time`));
  };
}

/** A view of the same bytes as a Buffer, without copying. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function probability(name: string, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name} must be a probability in [0, 1], got ${p}`);
  return p;
}

function nonNegative(name: string, ms: number): number {
  if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`${name} must be a finite number of ms >= 0, got ${ms}`);
  return ms;
}
