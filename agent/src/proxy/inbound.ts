/**
 * The inbound side of one local service: an mTLS listener that accepts only TLS 1.2+ with a client
 * certificate chaining to the trust bundle, reads the caller's SPIFFE ID, applies the intentions and
 * only then connects to the local application.
 *
 * Two ways in, chosen by ALPN:
 * - `h2`: a tunnel from another Shoal proxy; every CONNECT stream is one caller connection, authorized
 *   on its own against the intentions in force when it arrives (so a new intention applies to new
 *   streams at once), answered 200 once the local application accepted, 403 when denied, 503 when the
 *   application refused (the caller then tries another instance).
 * - anything else, or no ALPN: one plain mTLS connection (any mTLS client, e.g. another mesh).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { constants as h2, performServerHandshake, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { Identity } from '../../../ca/src/api';
import { parseSpiffeId } from '../../../ca/src/spiffe';
import type { Clock } from '../core/clock';
import { listenTcp } from '../transport/listen';
import { errorReason, type ConnectionReport, type Outcome, type ProxyMetrics } from './proxy-metrics';
import type { Authorizer, Caller } from './authorizer';
import { splice } from './splice';
import { TUNNEL_SESSION_WINDOW, TUNNEL_SETTINGS } from './tunnels';
import type { InboundSpec } from './types';

/** Options of InboundListener. */
export interface InboundOptions {
  clock: Clock;
  metrics: ProxyMetrics;
  authorizer: () => Authorizer;
  /** TLS handshakes that take longer are dropped: 10 s. */
  handshakeTimeoutMs?: number;
}

/** One inbound listener. */
export class InboundListener {
  private readonly server: Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly raw = new Set<TLSSocket>();

  constructor(private spec: InboundSpec, tls: SecureContextOptions, private readonly o: InboundOptions) {
    this.server = createServer({
      ...tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', handshakeTimeout: o.handshakeTimeoutMs ?? 10_000,
      ALPNCallback: ({ protocols }) => (protocols.includes('h2') ? 'h2' : protocols[0]),
      allowHalfOpen: true,
    }, (socket) => this.accept(socket));
    this.server.on('tlsClientError', (err, socket) => this.refused(err, socket));
  }

  /** Binds; rejects with the listen error (EADDRINUSE, ...). */
  listen(): Promise<number> {
    return listenTcp(this.server, this.spec.host, this.spec.port, 2048);
  }

  /** Where new connections go and what they are checked against; open ones are unaffected. */
  update(spec: InboundSpec): void {
    this.spec = spec;
  }

  /** New certificate or roots for new handshakes; connections already open keep theirs. */
  setTls(tls: SecureContextOptions): void {
    this.server.setSecureContext({ ...tls, minVersion: 'TLSv1.2' });
  }

  /** Stops accepting; open connections and tunnels finish on their own. */
  close(): void {
    this.server.close();
    for (const s of this.sessions) s.close();
  }

  /** Stops accepting and cuts everything open. */
  destroy(): void {
    this.server.close();
    for (const s of this.sessions) s.destroy();
    for (const s of this.raw) s.destroy();
  }

  private accept(socket: TLSSocket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('error', () => {});
    const caller = callerOf(socket);
    if (socket.alpnProtocol === 'h2') {
      const session = performServerHandshake(socket, { settings: TUNNEL_SETTINGS, maxSessionMemory: 64 });
      this.sessions.add(session);
      session.on('error', () => {});
      session.once('close', () => this.sessions.delete(session));
      session.once('connect', () => session.setLocalWindowSize(TUNNEL_SESSION_WINDOW));
      session.on('stream', (stream, headers) => this.stream(stream, headers[h2.HTTP2_HEADER_METHOD], caller, socket));
      return;
    }
    this.raw.add(socket);
    socket.once('close', () => this.raw.delete(socket));
    socket.pause();
    this.forward(caller, peerName(socket), (outcome) => {
      if (outcome !== 'ok') socket.destroy();
    }, socket);
  }

  private stream(stream: ServerHttp2Stream, method: string | string[] | undefined, caller: Caller, socket: TLSSocket): void {
    stream.on('error', () => {});
    if (method !== 'CONNECT') {
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: 405, 'shoal-reason': 'only_connect' }, { endStream: true });
      return;
    }
    this.forward(caller, peerName(socket), (outcome, reason) => {
      if (stream.destroyed) return;
      const status = outcome === 'ok' ? 200 : outcome === 'denied' ? 403 : outcome === 'timeout' ? 504 : 503;
      stream.respond({ [h2.HTTP2_HEADER_STATUS]: status, ...(outcome === 'ok' ? {} : { 'shoal-reason': reason }) }, { endStream: outcome !== 'ok' });
    }, stream);
  }

  /**
   * Authorizes `caller`, connects to the local application and splices it to `secure`. `answer` is
   * called once the outcome of the setup is known (before any application byte flows).
   */
  private forward(caller: Caller, peerAddr: string, answer: (o: Outcome, reason: string) => void, secure: ServerHttp2Stream | TLSSocket): void {
    const spec = this.spec;
    const started = this.o.clock.now();
    const base = {
      direction: 'inbound' as const, source: caller.service, destination: spec.service, sourceId: caller.spiffeId, destinationId: spec.spiffeId, endpoint: peerAddr,
    };
    const decision = this.o.authorizer().decide(caller, spec.service);
    if (!decision.allowed) {
      answer('denied', 'intention');
      this.o.metrics.finished({ ...base, bytesUp: 0, bytesDown: 0, durationMs: this.o.clock.now() - started, outcome: 'denied', reason: 'intention', detail: decision.reason }, undefined);
      return;
    }
    const stats = this.o.metrics.started('inbound', caller.service, spec.service);
    const app: Socket = netConnect({ host: spec.localAddress, port: spec.localPort, allowHalfOpen: true });
    app.setNoDelay(true);
    const timer = this.o.clock.setTimer(spec.localConnectTimeoutMs, () => app.destroy(timeoutError(spec)));
    const fail = (err: Error): void => {
      this.o.clock.clearTimer(timer);
      const outcome: Outcome = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timeout' : 'connect_failure';
      const reason = `local_${errorReason(err)}`;
      answer(outcome, reason);
      this.o.metrics.finished({ ...base, bytesUp: 0, bytesDown: 0, durationMs: this.o.clock.now() - started, outcome, reason }, stats);
    };
    app.once('error', fail);
    app.once('connect', () => {
      this.o.clock.clearTimer(timer);
      app.off('error', fail);
      if (secure.destroyed) {
        // The caller gave up while the application was accepting: nothing to splice (its close already fired).
        app.destroy();
        this.o.metrics.finished({ ...base, bytesUp: 0, bytesDown: 0, durationMs: this.o.clock.now() - started, outcome: 'connect_failure', reason: 'caller_closed' }, stats);
        return;
      }
      answer('ok', '');
      void splice(app, secure, false, spec.idleTimeoutMs).then((r) => {
        const outcome: Outcome = r.timedOut ? 'timeout' : 'ok';
        const report: ConnectionReport = {
          ...base, bytesUp: r.bytesUp, bytesDown: r.bytesDown, durationMs: this.o.clock.now() - started, outcome, reason: r.timedOut ? 'idle_timeout' : '',
        };
        this.o.metrics.finished(report, stats);
      });
    });
  }

  private refused(err: Error, socket: TLSSocket): void {
    const reason = errorReason(err);
    this.o.metrics.finished({
      direction: 'inbound', source: 'unknown', destination: this.spec.service, sourceId: '', destinationId: this.spec.spiffeId, endpoint: peerName(socket),
      bytesUp: 0, bytesDown: 0, durationMs: 0, outcome: 'tls_failure', reason,
    }, undefined);
  }
}

function peerName(socket: TLSSocket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}

function timeoutError(spec: InboundSpec): Error {
  const err = new Error(`the local application ${spec.localAddress}:${spec.localPort} did not accept within ${spec.localConnectTimeoutMs} ms`) as NodeJS.ErrnoException;
  err.code = 'ETIMEDOUT';
  return err;
}

/** The caller as its verified certificate names it. */
function callerOf(socket: TLSSocket): Caller {
  const san = socket.getPeerX509Certificate()?.subjectAltName ?? '';
  const uri = san.split(', ').find((s) => s.startsWith('URI:spiffe://'));
  return parseCaller(uri === undefined ? '' : uri.slice(4));
}

/** A service identity (the CA library's strict parser); anything else is a caller no intention can allow. */
export function parseCaller(spiffeId: string): Caller {
  let id: Identity | undefined;
  try {
    id = spiffeId === '' ? undefined : parseSpiffeId(spiffeId);
  } catch {
    id = undefined;
  }
  if (id?.kind !== 'service') return { spiffeId, trustDomain: '', namespace: '', datacenter: '', service: spiffeId === '' ? 'unknown' : 'not-a-service' };
  return { spiffeId, trustDomain: id.trustDomain, namespace: id.namespace, datacenter: id.datacenter, service: id.service };
}
