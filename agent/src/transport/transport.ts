/**
 * The gossip transport: best-effort datagrams plus framed, connection-oriented streams. Memberlist
 * code depends only on this interface, so the same protocol runs over real UDP+TCP sockets
 * (`udp-tcp.ts`) and over the in-memory network (`memory.ts`) on a virtual clock.
 *
 * Addresses are `host:port` strings (`[v6]:port` for IPv6). The transport knows nothing about
 * encryption, labels or message types: it moves opaque bytes and enforces size bounds.
 */

/** Receives one datagram. `from` is the sender's `host:port`. Must not throw and must not block. */
export type PacketHandler = (from: string, data: Buffer) => void;

/** Receives one accepted inbound stream. The handler owns the stream and must close it. */
export type StreamHandler = (stream: Stream) => void;

/**
 * A connection that carries whole frames (length-prefixed by the transport). Used for push-pull
 * state exchange, TCP fallback pings and large user messages.
 */
export interface Stream {
  /** The peer's `host:port`. */
  readonly remoteAddress: string;
  /** Queues one frame for sending. Throws `TransportError` if the frame exceeds `maxFrameBytes`. */
  send(frame: Uint8Array): void;
  /**
   * Resolves with the next whole frame. Rejects with `TransportError` on timeout (`timeout`), when
   * the peer closes or resets (`closed`), or when the peer announces a frame larger than
   * `maxFrameBytes` (`oversize`, after which the stream is destroyed).
   */
  receive(timeoutMs: number): Promise<Buffer>;
  /** Closes the stream; pending receives reject with `closed`. Idempotent. */
  close(): void;
}

/** The transport seen by memberlist. */
export interface Transport {
  /** The address peers should use to reach this node (`advertise` if set, else the bound one). */
  readonly advertiseAddress: string;
  /** Largest datagram `sendPacket` accepts and the receive side keeps, in bytes. */
  readonly maxPacketBytes: number;
  /** Largest stream frame accepted in either direction, in bytes. */
  readonly maxFrameBytes: number;
  /** Starts listening. Rejects with a `TransportError` naming the address when binding fails. */
  start(onPacket: PacketHandler, onStream: StreamHandler): Promise<void>;
  /** Sends one datagram, best effort. Oversized data throws; network errors are counted, not thrown. */
  sendPacket(to: string, data: Uint8Array): void;
  /** Opens a stream to `to`. Rejects with `TransportError` (`timeout`, `refused`, ...) on failure. */
  dialStream(to: string, timeoutMs: number): Promise<Stream>;
  /** Stops listening and closes every open stream. Idempotent. */
  close(): Promise<void>;
}

/** Why a transport operation failed; stable strings used as metric labels. */
export type TransportErrorReason = 'timeout' | 'closed' | 'refused' | 'oversize' | 'unreachable' | 'bind';

/** A failed transport operation with a machine-readable reason. */
export class TransportError extends Error {
  constructor(
    readonly reason: TransportErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** Splits `host:port` (or `[v6]:port`) into parts; throws on anything else. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(`invalid address "${address}": expected host:port`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

/** Joins a host and port into `host:port`, bracketing IPv6 literals. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
