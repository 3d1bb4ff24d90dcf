/**
 * The production gossip transport: UDP datagrams and length-prefixed TCP streams on one port, as in
 * memberlist's `net_transport.go`. Everything that arrives is bounded (datagram size, frame size,
 * open inbound streams, idle time) and every socket failure is counted, never thrown out of a socket
 * handler: a hostile or broken peer costs a counter increment, not the agent.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Clock, TimerHandle } from '../core/clock';
import { noopLogger, RateLimitedLog, type Logger } from '../core/logger';
import { listenTcp } from './listen';
import {
  joinHostPort,
  splitHostPort,
  TransportError,
  type PacketHandler,
  type Stream,
  type StreamHandler,
  type Transport,
} from './transport';

/** Largest UDP payload over IPv4 (65535 - 20 IP header - 8 UDP header): the default receive bound. */
export const DEFAULT_MAX_PACKET_BYTES = 65_507;
/** 16 MiB: a push-pull of several thousand members with tags fits; memory per stream stays bounded. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Inbound streams open at once; push-pull and TCP pings are short, so 256 is far above normal load. */
const DEFAULT_MAX_STREAMS = 256;
/** A stream with no whole frame in either direction and no pending receive for this long is destroyed. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** With port 0 the kernel picks a free TCP port; UDP may hold it elsewhere, so we retry a few times. */
const BIND_ATTEMPTS = 5;
/** Whole frames queued unread before we stop reading the socket, pushing back on the peer via TCP. */
const MAX_QUEUED_FRAMES = 16;
/** Frames carry a 4-byte big-endian length prefix. */
const FRAME_HEADER_BYTES = 4;
const EMPTY = Buffer.alloc(0);

/** Options of `UdpTcpTransport`. */
export interface UdpTcpTransportOptions {
  /** Address both sockets bind to, e.g. `0.0.0.0`, `::` or `127.0.0.2`; an IPv6 literal selects udp6. */
  bindAddr: string;
  /** Port both sockets bind to; 0 picks a free TCP port and binds UDP to the same one. */
  bindPort: number;
  /** Address peers should use; default `bindAddr` (set it when binding a wildcard address). */
  advertiseAddr?: string;
  /** Port peers should use; default the bound port (set it behind port mapping). */
  advertisePort?: number;
  /** Largest datagram sent or kept on receive, in bytes; default 65507. */
  maxPacketBytes?: number;
  /** Largest stream frame sent or accepted, in bytes; default 16 MiB. */
  maxFrameBytes?: number;
  /** Inbound streams open at once; excess connections are destroyed on accept and counted. Default 256. */
  maxStreams?: number;
  /** Idle time after which a stream is destroyed, in milliseconds; default 30 000. */
  idleTimeoutMs?: number;
  /** Schedules receive, dial and idle timeouts. */
  clock: Clock;
  /** Receives rate-limited warnings about dropped input; default discards. */
  logger?: Logger;
}

/**
 * Counters for the agent's metrics. Bytes are payload bytes of datagrams and stream frames (frame
 * headers and IP/UDP/TCP headers are not counted).
 */
export interface UdpTcpTransportStats {
  /** Datagrams handed to the packet handler. */
  packetsIn: number;
  /** Datagrams passed to the kernel. */
  packetsOut: number;
  /** Datagrams received but dropped for exceeding `maxPacketBytes`. */
  packetsDropped: number;
  /** Stream frames received whole. */
  framesIn: number;
  /** Stream frames queued for sending. */
  framesOut: number;
  /** Payload bytes received in datagrams and frames. */
  bytesIn: number;
  /** Payload bytes sent in datagrams and frames. */
  bytesOut: number;
  /** Datagrams that could not be sent (bad address, socket error, not started). */
  sendErrors: number;
  /** Inbound connections handed to the stream handler. */
  streamsAccepted: number;
  /** Inbound connections destroyed on accept (over `maxStreams`, or while closing). */
  streamsRejected: number;
  /** Streams open now, inbound and dialled. */
  streamsOpen: number;
  /** Streams that ended with a socket error, an oversize frame or the idle timeout. */
  streamErrors: number;
}

type Counters = Omit<UdpTcpTransportStats, 'streamsOpen'>;

/**
 * Splits a TCP byte stream into length-prefixed frames. Chunks are kept as received and each byte is
 * copied at most once (only when a header or frame spans chunks), so a 16 MiB frame arriving in
 * 64 KiB reads costs one copy rather than the quadratic cost of concatenating on every read. A frame
 * inside one chunk is returned as a view of it: receivers treat frames as read-only.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  /** Index of the first chunk with unconsumed bytes, and how many of its bytes are consumed. */
  private head = 0;
  private offset = 0;
  private buffered = 0;
  /** Body length of the frame being read, or -1 while its header is incomplete. */
  private bodyBytes = -1;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Feeds received bytes and appends every frame they complete to `out`. Returns false when a header
   * announces more than `maxFrameBytes`; the stream cannot be resynchronised and must be dropped.
   */
  push(chunk: Buffer, out: Buffer[]): boolean {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (this.bodyBytes < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) return true;
        this.bodyBytes = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (this.bodyBytes > this.maxFrameBytes) return false;
      }
      if (this.buffered < this.bodyBytes) return true;
      out.push(this.take(this.bodyBytes));
      this.bodyBytes = -1;
    }
  }

  /** The length announced by the header that made `push` return false. */
  get announcedBytes(): number {
    return this.bodyBytes;
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.consume(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    for (let filled = 0; filled < n; ) {
      const chunk = this.chunks[this.head]!;
      const k = Math.min(n - filled, chunk.length - this.offset);
      chunk.copy(out, filled, this.offset, this.offset + k);
      filled += k;
      this.consume(k);
    }
    return out;
  }

  private consume(n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset < this.chunks[this.head]!.length) return;
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
  }
}

/** What a stream needs from its transport. */
interface StreamOwner {
  readonly clock: Clock;
  readonly maxFrameBytes: number;
  readonly counters: Counters;
  forget(stream: TcpStream): void;
  warn(key: string, fields: object, msg: string): void;
}

interface Waiter {
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
}

/** One TCP connection carrying frames; see `Stream` for the contract. */
class TcpStream implements Stream {
  private readonly decoder: FrameDecoder;
  private readonly frames: Buffer[] = [];
  private waiter: Waiter | undefined;
  /** Why receives now fail once the queue is drained; set on peer close, error, oversize or close(). */
  private failure: TransportError | undefined;
  private closedLocally = false;
  private lastActiveMs: number;

  constructor(
    private readonly socket: net.Socket,
    readonly remoteAddress: string,
    readonly inbound: boolean,
    private readonly owner: StreamOwner,
  ) {
    this.decoder = new FrameDecoder(owner.maxFrameBytes);
    this.lastActiveMs = owner.clock.now();
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  send(frame: Uint8Array): void {
    if (this.failure) throw new TransportError('closed', `stream to ${this.remoteAddress} is closed`);
    if (frame.length > this.owner.maxFrameBytes) {
      throw new TransportError('oversize', `frame of ${frame.length} bytes exceeds maxFrameBytes ${this.owner.maxFrameBytes}`);
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(frame.length, 0);
    this.socket.cork();
    this.socket.write(header);
    if (frame.length > 0) this.socket.write(frame);
    this.socket.uncork();
    this.owner.counters.framesOut++;
    this.owner.counters.bytesOut += frame.length;
    this.lastActiveMs = this.owner.clock.now();
  }

  receive(timeoutMs: number): Promise<Buffer> {
    if (this.frames.length > 0) return Promise.resolve(this.nextFrame());
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error(`a receive on the stream to ${this.remoteAddress} is already pending`));
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.owner.clock.setTimer(timeoutMs, this.onReceiveTimeout);
      this.waiter = { resolve, reject, timer };
    });
  }

  close(): void {
    if (this.closedLocally) return;
    this.closedLocally = true;
    this.failure = new TransportError('closed', `stream to ${this.remoteAddress} closed`);
    this.frames.length = 0;
    this.settle();
    this.lastActiveMs = this.owner.clock.now();
    // end() flushes queued frames before the FIN; the idle sweep destroys a peer that never answers it.
    if (!this.socket.destroyed) {
      this.socket.end();
      this.socket.resume();
    }
  }

  /** Tears the connection down at once (oversize, idle, transport shutdown). */
  destroy(reason: TransportError): void {
    this.failure ??= reason;
    this.socket.destroy();
    this.settle();
  }

  /**
   * Milliseconds without a whole frame either way; 0 while a receive is pending (it has its own
   * deadline) or once the socket is destroyed (its close event is on the way).
   */
  idleFor(now: number): number {
    return this.waiter || this.socket.destroyed ? 0 : now - this.lastActiveMs;
  }

  private nextFrame(): Buffer {
    const frame = this.frames.shift()!;
    if (this.frames.length < MAX_QUEUED_FRAMES && this.socket.isPaused()) this.socket.resume();
    return frame;
  }

  /** Hands the next frame or the failure to a pending receive. */
  private settle(): void {
    const w = this.waiter;
    if (!w || (this.frames.length === 0 && !this.failure)) return;
    this.waiter = undefined;
    this.owner.clock.clearTimer(w.timer);
    if (this.frames.length > 0) w.resolve(this.nextFrame());
    else w.reject(this.failure!);
  }

  private readonly onReceiveTimeout = (): void => {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    w.reject(new TransportError('timeout', `no frame from ${this.remoteAddress} in time`));
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.closedLocally) return;
    const before = this.frames.length;
    const ok = this.decoder.push(chunk, this.frames);
    const counters = this.owner.counters;
    if (this.frames.length > before) {
      for (let i = before; i < this.frames.length; i++) counters.bytesIn += this.frames[i]!.length;
      counters.framesIn += this.frames.length - before;
      this.lastActiveMs = this.owner.clock.now();
    }
    if (!ok) {
      counters.streamErrors++;
      const max = this.owner.maxFrameBytes;
      const announced = this.decoder.announcedBytes;
      this.owner.warn('oversize', { peer: this.remoteAddress, announced, max }, 'peer announced an oversize frame');
      this.destroy(new TransportError('oversize', `${this.remoteAddress} announced a frame of ${announced} bytes, over ${max}`));
      return;
    }
    if (this.frames.length >= MAX_QUEUED_FRAMES) this.socket.pause();
    this.settle();
  };

  private readonly onEnd = (): void => {
    this.failure ??= new TransportError('closed', `${this.remoteAddress} closed the stream`);
    this.settle();
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.owner.counters.streamErrors++;
    this.owner.warn(`stream:${err.code}`, { peer: this.remoteAddress, err: err.code ?? err.message }, 'stream error');
    this.failure ??= new TransportError('closed', `stream to ${this.remoteAddress} failed: ${err.code ?? err.message}`);
    this.settle();
  };

  private readonly onClose = (): void => {
    this.failure ??= new TransportError('closed', `stream to ${this.remoteAddress} closed`);
    this.settle();
    this.owner.forget(this);
  };
}

/** UDP + TCP gossip transport on one port; see the module comment. */
export class UdpTcpTransport implements Transport {
  readonly maxPacketBytes: number;
  readonly maxFrameBytes: number;
  private readonly maxStreams: number;
  private readonly idleTimeoutMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly rateLimit: RateLimitedLog;
  private state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  private boundPort: number;
  private udp: dgram.Socket | undefined;
  private server: net.Server | undefined;
  private onPacket: PacketHandler = () => {};
  private onStream: StreamHandler = (stream) => stream.close();
  private readonly streams = new Set<TcpStream>();
  private readonly dials = new Set<net.Socket>();
  private inboundOpen = 0;
  private sweepTimer: TimerHandle | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters: Counters = {
    packetsIn: 0, packetsOut: 0, packetsDropped: 0, framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0,
    sendErrors: 0, streamsAccepted: 0, streamsRejected: 0, streamErrors: 0,
  };
  private readonly owner: StreamOwner;

  constructor(private readonly options: UdpTcpTransportOptions) {
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.clock = options.clock;
    this.logger = options.logger ?? noopLogger;
    this.rateLimit = new RateLimitedLog(() => this.clock.now());
    this.boundPort = options.bindPort;
    this.owner = {
      clock: this.clock,
      maxFrameBytes: this.maxFrameBytes,
      counters: this.counters,
      forget: (stream) => this.forget(stream),
      warn: (key, fields, msg) => this.warn(key, fields, msg),
    };
  }

  get advertiseAddress(): string {
    return joinHostPort(this.options.advertiseAddr ?? this.options.bindAddr, this.options.advertisePort ?? this.boundPort);
  }

  /** The `host:port` both sockets are bound to (the chosen port once started with port 0). */
  get boundAddress(): string {
    return joinHostPort(this.options.bindAddr, this.boundPort);
  }

  async start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void> {
    if (this.state !== 'new') throw new Error('UdpTcpTransport.start called twice');
    this.state = 'starting';
    this.onPacket = onPacket;
    this.onStream = onStream;
    let bound: { server: net.Server; udp: dgram.Socket; port: number };
    try {
      bound = await this.bindBoth();
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    if (this.closing) {
      await Promise.all([closeServer(bound.server), closeUdp(bound.udp)]);
      throw new TransportError('closed', 'transport closed while starting');
    }
    this.server = bound.server;
    this.udp = bound.udp;
    this.boundPort = bound.port;
    this.state = 'started';
  }

  sendPacket(to: string, data: Uint8Array): void {
    if (data.length > this.maxPacketBytes) {
      throw new TransportError('oversize', `packet of ${data.length} bytes exceeds maxPacketBytes ${this.maxPacketBytes}`);
    }
    const udp = this.udp;
    let target: { host: string; port: number };
    try {
      if (!udp || this.state !== 'started') throw new Error('transport is not running');
      target = splitHostPort(to);
    } catch (err) {
      this.onSent(err as Error);
      return;
    }
    this.counters.packetsOut++;
    this.counters.bytesOut += data.length;
    try {
      udp.send(data, target.port, target.host, this.onSent);
    } catch (err) {
      this.onSent(err as Error);
    }
  }

  dialStream(to: string, timeoutMs: number): Promise<Stream> {
    if (this.state === 'closed') return Promise.reject(new TransportError('closed', 'transport is closed'));
    let target: { host: string; port: number };
    try {
      target = splitHostPort(to);
    } catch (err) {
      return Promise.reject(new TransportError('unreachable', (err as Error).message));
    }
    return new Promise<Stream>((resolve, reject) => {
      const socket = net.connect({ host: target.host, port: target.port });
      const finish = (err: TransportError | undefined): void => {
        this.clock.clearTimer(timer);
        socket.off('connect', onConnect).off('error', onError).off('close', onClose);
        if (!this.dials.delete(socket)) return;
        if (err) {
          socket.on('error', () => {}); // a late connect error after the timeout is expected, not uncaught
          socket.destroy();
          reject(err);
        } else {
          resolve(this.track(socket, to, false));
        }
      };
      const onConnect = (): void => finish(undefined);
      const onError = (e: NodeJS.ErrnoException): void => finish(dialError(to, e));
      const onClose = (): void => finish(new TransportError('closed', `dial ${to} aborted: transport closed`));
      this.dials.add(socket);
      socket.on('connect', onConnect).on('error', onError).on('close', onClose);
      const timer = this.clock.setTimer(timeoutMs, () => finish(new TransportError('timeout', `dial ${to} timed out after ${timeoutMs} ms`)));
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Counters for the agent's metrics. */
  stats(): UdpTcpTransportStats {
    return { ...this.counters, streamsOpen: this.streams.size };
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed';
    this.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const socket of this.dials) socket.destroy();
    for (const stream of this.streams) stream.destroy(new TransportError('closed', 'transport closed'));
    await Promise.all([closeServer(this.server), closeUdp(this.udp)]);
  }

  /** Binds TCP then UDP to the same port, retrying with a new port when port 0 lands on a busy UDP one. */
  private async bindBoth(): Promise<{ server: net.Server; udp: dgram.Socket; port: number }> {
    const { bindAddr, bindPort } = this.options;
    for (let attempt = 1; ; attempt++) {
      const server = net.createServer(this.onConnection);
      const port = await listenTcp(server, bindAddr, bindPort).catch((err: NodeJS.ErrnoException) => {
        throw bindError(bindAddr, bindPort, 'tcp', err);
      });
      const udp = dgram.createSocket(net.isIPv6(bindAddr) ? 'udp6' : 'udp4');
      try {
        await bindUdp(udp, bindAddr, port);
      } catch (err) {
        await Promise.all([closeServer(server), closeUdp(udp)]);
        if (bindPort === 0 && attempt < BIND_ATTEMPTS) continue;
        throw bindError(bindAddr, port, 'udp', err as NodeJS.ErrnoException);
      }
      server.on('error', (err: NodeJS.ErrnoException) => this.warn(`server:${err.code}`, { err: err.code }, 'gossip TCP listener error'));
      udp.on('error', (err: NodeJS.ErrnoException) => this.warn(`udp:${err.code}`, { err: err.code }, 'gossip UDP socket error'));
      udp.on('message', this.onMessage);
      return { server, udp, port };
    }
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (msg.length > this.maxPacketBytes) {
      this.counters.packetsDropped++;
      this.warn('packet-oversize', { from: rinfo.address, bytes: msg.length }, 'dropped oversize datagram');
      return;
    }
    this.counters.packetsIn++;
    this.counters.bytesIn += msg.length;
    try {
      this.onPacket(joinHostPort(rinfo.address, rinfo.port), msg);
    } catch (err) {
      this.warn('packet-handler', { err: (err as Error).message }, 'packet handler threw');
    }
  };

  private readonly onSent = (err: Error | null): void => {
    if (!err) return;
    this.counters.sendErrors++;
    this.warn(`send:${(err as NodeJS.ErrnoException).code}`, { err: err.message }, 'gossip packet not sent');
  };

  private readonly onConnection = (socket: net.Socket): void => {
    socket.on('error', () => {}); // a reset between accept and destroy must not become an uncaught error
    if (this.state !== 'started' || this.inboundOpen >= this.maxStreams || socket.remoteAddress === undefined) {
      this.counters.streamsRejected++;
      this.warn('stream-rejected', { open: this.inboundOpen, max: this.maxStreams }, 'rejected inbound stream');
      socket.destroy();
      return;
    }
    this.counters.streamsAccepted++;
    const stream = this.track(socket, joinHostPort(socket.remoteAddress, socket.remotePort ?? 0), true);
    try {
      this.onStream(stream);
    } catch (err) {
      this.warn('stream-handler', { err: (err as Error).message }, 'stream handler threw');
      stream.close();
    }
  };

  private track(socket: net.Socket, remoteAddress: string, inbound: boolean): TcpStream {
    const stream = new TcpStream(socket, remoteAddress, inbound, this.owner);
    this.streams.add(stream);
    if (inbound) this.inboundOpen++;
    this.scheduleSweep();
    return stream;
  }

  private forget(stream: TcpStream): void {
    if (this.streams.delete(stream) && stream.inbound) this.inboundOpen--;
  }

  /**
   * One coarse timer for all idle timeouts (as undici does) rather than one per connection: it runs
   * every idleTimeoutMs / 2 while streams are open, so an idle stream dies after 1 to 1.5 x idleTimeoutMs.
   */
  private scheduleSweep(): void {
    if (this.sweepTimer !== undefined || this.state === 'closed') return;
    this.sweepTimer = this.clock.setTimer(this.idleTimeoutMs / 2, this.sweep);
  }

  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    const now = this.clock.now();
    for (const stream of this.streams) {
      if (stream.idleFor(now) < this.idleTimeoutMs) continue;
      this.counters.streamErrors++;
      stream.destroy(new TransportError('timeout', `stream to ${stream.remoteAddress} idle for ${this.idleTimeoutMs} ms`));
    }
    if (this.streams.size > 0) this.scheduleSweep();
  };

  private warn(key: string, fields: object, msg: string): void {
    const suppressed = this.rateLimit.admit(key);
    if (suppressed >= 0) this.logger.warn({ ...fields, suppressed }, msg);
  }
}

function bindUdp(udp: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address, port }, () => {
      udp.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server | undefined): Promise<void> {
  return new Promise((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
}

function closeUdp(udp: dgram.Socket | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!udp) return resolve();
    try {
      udp.close(() => resolve());
    } catch {
      resolve(); // never bound, or already closed
    }
  });
}

function bindError(host: string, port: number, proto: 'tcp' | 'udp', err: NodeJS.ErrnoException): TransportError {
  return new TransportError('bind', `cannot bind gossip to ${joinHostPort(host, port)}: ${err.code ?? err.message} (${proto})`);
}

/** Maps a connect error to a reason; the code stays in the message for operators. */
function dialError(to: string, err: NodeJS.ErrnoException): TransportError {
  const reason =
    err.code === 'ECONNREFUSED' ? 'refused'
    : err.code === 'ETIMEDOUT' ? 'timeout'
    : err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ENOTFOUND' || err.code === 'EADDRNOTAVAIL' ? 'unreachable'
    : 'closed';
  return new TransportError(reason, `dial ${to} failed: ${err.code ?? err.message}`);
}
