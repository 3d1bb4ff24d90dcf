/**
 * Outbound tunnels: mTLS connections from this proxy to other proxies' inbound listeners, each
 * carrying many TCP connections as HTTP/2 CONNECT streams (the HBONE model of Istio's ztunnel). A new
 * application connection then costs one stream, not a TCP and TLS handshake.
 *
 * Identity is never shared: a tunnel belongs to one (local source service, endpoint) pair, presents
 * the source service's leaf and checks that the endpoint presents the destination's SPIFFE ID, so the
 * far side authorizes every stream against the caller's own certificate.
 *
 * - Pool: per key, the tunnels with room (fewer than `maxStreams` streams); a new one when all are
 *   full. Tunnels idle for `idleMs` close.
 * - Certificates: `setMaterial` starts a new generation; tunnels of older generations are closed
 *   gracefully (their streams finish, new streams go to new tunnels with the new certificates).
 * - TLS session tickets are kept per key, so a reconnecting tunnel resumes instead of a full handshake.
 */
import { connect as http2Connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tlsConnect, createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { Clock } from '../core/clock';
import type { ProxyMetrics } from './proxy-metrics';
import type { EndpointSpec, ServiceCert } from './types';

/** Why an attempt failed; decides retry and outlier accounting. */
export type AttemptFailure = 'connect_failure' | 'tls_failure' | 'timeout' | 'denied';

/** A failed attempt to open a stream. */
export class AttemptError extends Error {
  constructor(readonly kind: AttemptFailure, readonly reason: string, message: string) {
    super(message);
  }
}

/** HTTP/2 settings both ends use: large windows so one stream can fill a fast link. */
export const TUNNEL_SETTINGS = { initialWindowSize: 4 * 1024 * 1024, maxConcurrentStreams: 1024, enablePush: false } as const;
/** Connection-level receive window. */
export const TUNNEL_SESSION_WINDOW = 32 * 1024 * 1024;

interface Tunnel {
  key: string;
  generation: number;
  session: ClientHttp2Session;
  ready: Promise<void>;
  streams: number;
  closed: boolean;
  /** The TLS handshake completed and the peer was verified. */
  connected: boolean;
  socket: TLSSocket;
}

/** Options of TunnelPool. */
export interface TunnelPoolOptions {
  clock: Clock;
  metrics: ProxyMetrics;
  /** Streams per tunnel before another opens: 256. */
  maxStreams?: number;
  /** Idle tunnels close after: 120 s. */
  idleMs?: number;
}

/** The outbound tunnel pool of one proxy. */
export class TunnelPool {
  private generation = 0;
  private roots: string[] = [];
  private certs: Record<string, ServiceCert> = {};
  private readonly contexts = new Map<string, SecureContext>();
  private readonly tunnels = new Map<string, Tunnel[]>();
  private readonly tickets = new Map<string, Buffer>();
  private readonly maxStreams: number;
  private readonly idleMs: number;

  constructor(private readonly o: TunnelPoolOptions) {
    this.maxStreams = o.maxStreams ?? 256;
    this.idleMs = o.idleMs ?? 120_000;
  }

  /** New certificates or roots: later streams use new tunnels; old tunnels drain and close. */
  setMaterial(roots: string[], certs: Record<string, ServiceCert>): void {
    this.generation++;
    this.roots = roots;
    this.certs = certs;
    this.contexts.clear();
    this.tickets.clear();
    for (const list of this.tunnels.values()) for (const t of list) this.retire(t);
    this.tunnels.clear();
  }

  /** Tunnels open now. */
  count(): number {
    let n = 0;
    for (const list of this.tunnels.values()) n += list.length;
    return n;
  }

  /**
   * Opens a CONNECT stream to `ep` as `source`, within `timeoutMs` (TCP, TLS and the far side's
   * answer). Rejects with an AttemptError.
   */
  async open(ep: EndpointSpec, source: string, timeoutMs: number): Promise<ClientHttp2Stream> {
    if (this.certs[source] === undefined) {
      throw new AttemptError('tls_failure', 'no_certificate', `no certificate for ${source} yet: the CA has not issued its leaf`);
    }
    const tunnel = this.tunnelFor(ep, source);
    tunnel.streams++;
    let timer;
    let stream: ClientHttp2Stream | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.o.clock.setTimer(timeoutMs, () => {
        stream?.close(h2.NGHTTP2_CANCEL);
        // A handshake that has not finished in the whole connect timeout is stuck (a peer that
        // accepts TCP but does not answer): later streams must dial afresh, not wait on it too.
        if (!tunnel.connected && !tunnel.closed) {
          this.drop(tunnel);
          tunnel.session.destroy();
          // The session takes the socket over only once the handshake is done: end it here.
          tunnel.socket.destroy();
        }
        reject(new AttemptError('timeout', 'connect_timeout', `no answer from ${ep.host}:${ep.port} within ${timeoutMs} ms`));
      });
    });
    try {
      await Promise.race([tunnel.ready, timeout]);
      if (tunnel.closed) throw new AttemptError('connect_failure', 'tunnel_closed', `the tunnel to ${ep.host}:${ep.port} closed`);
      stream = tunnel.session.request({ [h2.HTTP2_HEADER_METHOD]: 'CONNECT', [h2.HTTP2_HEADER_AUTHORITY]: `${ep.sni}:${ep.port}` }, { endStream: false });
      const s = stream;
      // Errors after the answer belong to the splice; none may go unhandled in between.
      s.on('error', () => {});
      s.once('close', () => this.streamClosed(tunnel));
      await Promise.race([answer(s, ep), timeout]);
      return s;
    } catch (err) {
      if (stream === undefined) this.streamClosed(tunnel);
      else if (!stream.destroyed) stream.destroy();
      throw err instanceof AttemptError ? err : new AttemptError('connect_failure', 'tunnel_error', (err as Error).message);
    } finally {
      this.o.clock.clearTimer(timer);
    }
  }

  /** Closes every tunnel (streams in flight are cut). */
  close(): void {
    for (const list of this.tunnels.values()) for (const t of list) t.session.destroy();
    this.tunnels.clear();
  }

  private tunnelFor(ep: EndpointSpec, source: string): Tunnel {
    const key = `${source}\u0000${ep.host}:${ep.port}\u0000${ep.spiffeId}`;
    const list = this.tunnels.get(key) ?? [];
    const open = list.find((t) => !t.closed && t.streams < this.maxStreams);
    if (open !== undefined) return open;
    const t = this.dial(key, ep, source);
    list.push(t);
    this.tunnels.set(key, list);
    return t;
  }

  private dial(key: string, ep: EndpointSpec, source: string): Tunnel {
    const socket: TLSSocket = tlsConnect({
      host: ep.host, port: ep.port, servername: ep.sni, ALPNProtocols: ['h2'], minVersion: 'TLSv1.2',
      secureContext: this.contextFor(source), session: this.tickets.get(key),
      checkServerIdentity: (_host: string, peer: PeerCertificate) => checkSpiffe(peer, ep.spiffeId),
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('session', (ticket: Buffer) => this.tickets.set(key, ticket));
    const session = http2Connect(`https://${ep.sni}:${ep.port}`, {
      createConnection: () => socket, settings: TUNNEL_SETTINGS, maxSessionMemory: 64, peerMaxConcurrentStreams: TUNNEL_SETTINGS.maxConcurrentStreams,
    });
    const tunnel: Tunnel = { key, generation: this.generation, session, ready: Promise.resolve(), streams: 0, closed: false, connected: false, socket };
    const dest = ep.spiffeId.slice(ep.spiffeId.lastIndexOf('/') + 1);
    const gauge = this.o.metrics.tunnels.labels({ source, destination: dest });
    gauge.inc();
    tunnel.ready = new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => {
        if (!socket.authorized) {
          reject(new AttemptError('tls_failure', 'peer_unauthorized', `${ep.host}:${ep.port}: ${String(socket.authorizationError)}`));
          return;
        }
        tunnel.connected = true;
        this.o.metrics.handshake(socket.isSessionReused());
        session.setLocalWindowSize(TUNNEL_SESSION_WINDOW);
        resolve();
      });
      session.once('error', (err: NodeJS.ErrnoException) => reject(tlsOrConnect(err, ep)));
      session.once('close', () => reject(new AttemptError('connect_failure', 'tunnel_closed', `the tunnel to ${ep.host}:${ep.port} closed`)));
    });
    // A tunnel that never became ready is closed (and no later stream can pick it).
    tunnel.ready.catch(() => {
      this.drop(tunnel);
      session.destroy();
    });
    session.on('error', () => {});
    session.once('close', () => {
      gauge.dec();
      this.drop(tunnel);
    });
    session.setTimeout(this.idleMs, () => {
      if (tunnel.streams === 0) this.retire(tunnel);
    });
    return tunnel;
  }

  private contextFor(source: string): SecureContext {
    let ctx = this.contexts.get(source);
    if (ctx === undefined) {
      const cert = this.certs[source];
      ctx = createSecureContext({ ca: this.roots, cert: cert?.certPem, key: cert?.keyPem, minVersion: 'TLSv1.2' });
      this.contexts.set(source, ctx);
    }
    return ctx;
  }

  private streamClosed(t: Tunnel): void {
    t.streams--;
    if (t.streams <= 0 && t.generation !== this.generation) t.session.close();
  }

  /** No new streams; closes when its streams are done. */
  private retire(t: Tunnel): void {
    this.drop(t);
    if (!t.session.closed && !t.session.destroyed) t.session.close();
  }

  private drop(t: Tunnel): void {
    t.closed = true;
    const list = this.tunnels.get(t.key);
    if (list === undefined) return;
    const i = list.indexOf(t);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.tunnels.delete(t.key);
  }
}

/** Waits for the far side's answer to CONNECT: 200 opens, anything else is a failed attempt. */
function answer(stream: ClientHttp2Stream, ep: EndpointSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      off();
      reject(tlsOrConnect(err as NodeJS.ErrnoException, ep));
    };
    const onClose = (): void => {
      off();
      reject(new AttemptError('connect_failure', 'stream_closed', `${ep.host}:${ep.port} closed the stream`));
    };
    const off = (): void => {
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.once('response', (headers) => {
      off();
      const status = Number(headers[h2.HTTP2_HEADER_STATUS]);
      if (status === 200) {
        resolve();
        return;
      }
      const reason = String(headers['shoal-reason'] ?? `status_${status}`);
      const kind: AttemptFailure = status === 403 ? 'denied' : status === 504 ? 'timeout' : 'connect_failure';
      reject(new AttemptError(kind, reason, `${ep.host}:${ep.port} answered ${status} (${reason})`));
    });
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/** Classifies a tunnel error: TLS (certificate, identity, alert) or connect (refused, reset, unreachable). */
function tlsOrConnect(err: NodeJS.ErrnoException, ep: EndpointSpec): AttemptError {
  const code = err.code ?? '';
  const tls = code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|ssl|tls|alert/i.test(err.message) || code === 'ERR_SPIFFE_MISMATCH';
  const reason = (code === '' ? err.message : code).toLowerCase().replace(/^err_/, '').replace(/[^a-z0-9]+/g, '_').slice(0, 64);
  return new AttemptError(tls ? 'tls_failure' : 'connect_failure', reason, `${ep.host}:${ep.port}: ${err.message}`);
}

/** The peer must carry exactly the expected SPIFFE ID among its URI SANs. */
export function checkSpiffe(peer: PeerCertificate, expected: string): Error | undefined {
  const sans = (peer.subjectaltname ?? '').split(', ');
  if (sans.includes(`URI:${expected}`)) return undefined;
  const err = new Error(`peer presented ${peer.subjectaltname ?? 'no SAN'}, expected ${expected}`) as NodeJS.ErrnoException;
  err.code = 'ERR_SPIFFE_MISMATCH';
  return err;
}
