/**
 * The data plane's metrics and access log. Metrics live in the proxy worker's own prom-client
 * registry; the agent appends their text to `/metrics`. Every connection is reported once, when it
 * ends: its outcome, bytes, duration, and (when access logs are on) one JSON line with both identities.
 *
 * Labels: `source` and `destination` are service names (the caller's from its certificate inbound, the
 * local service outbound), `direction` is inbound or outbound. Outcomes: ok, denied, connect_failure
 * (no endpoint answered, or the local application refused), tls_failure (with `reason`), timeout.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AccessLogSink } from './access-log';

export type Direction = 'inbound' | 'outbound';
export type Outcome = 'ok' | 'denied' | 'connect_failure' | 'tls_failure' | 'timeout';

/** What a finished connection reports. */
export interface ConnectionReport {
  direction: Direction;
  source: string;
  destination: string;
  /** Peer identities: the caller's and the callee's SPIFFE IDs when known. */
  sourceId: string;
  destinationId: string;
  /** The far end: the chosen endpoint (outbound) or the caller's address (inbound). */
  endpoint: string;
  /** Bytes from the caller towards the destination, and back. */
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  outcome: Outcome;
  /** Why, for anything but ok: a short label value. */
  reason: string;
  /** A longer explanation for the access log (e.g. the intention that decided). */
  detail?: string;
  /** Endpoint attempts (outbound). */
  attempts?: number;
}

type PairKey = string;

interface PairStats {
  opened: Counter.Internal;
  active: Gauge.Internal<string>;
  duration: Histogram.Internal<string>;
  bytesUp: Counter.Internal;
  bytesDown: Counter.Internal;
  closedOk: Counter.Internal;
}

/** The proxy's metrics, in their own registry. */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly opened: Counter<string>;
  private readonly active: Gauge<string>;
  private readonly closed: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly bytesUp: Counter<string>;
  private readonly bytesDown: Counter<string>;
  private readonly denials: Counter<string>;
  private readonly ejections: Counter<string>;
  readonly ejected: Gauge<string>;
  readonly tunnels: Gauge<string>;
  private readonly tunnelHandshakes: Counter<string>;
  readonly listeners: Gauge<string>;
  readonly accessLogDropped: Counter;
  private readonly pairs = new Map<PairKey, PairStats>();
  /** The access log is written only while this is on (proxy-defaults AccessLogs.Enabled). */
  accessLogEnabled = true;

  constructor(private readonly accessLog: AccessLogSink | undefined) {
    const registers = [this.registry];
    const pair = ['source', 'destination', 'direction'];
    this.opened = new Counter({ name: 'shoal_proxy_connections_opened_total', help: 'Connections accepted by the proxy.', labelNames: pair, registers });
    this.active = new Gauge({ name: 'shoal_proxy_connections_active', help: 'Connections open now.', labelNames: pair, registers });
    this.closed = new Counter({
      name: 'shoal_proxy_connections_closed_total', help: 'Connections ended, by outcome (ok, denied, connect_failure, tls_failure, timeout) and reason.',
      labelNames: [...pair, 'outcome', 'reason'], registers,
    });
    this.duration = new Histogram({
      name: 'shoal_proxy_connection_duration_seconds', help: 'How long connections lasted.', labelNames: pair, registers,
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60, 300, 1800],
    });
    this.bytesUp = new Counter({ name: 'shoal_proxy_sent_bytes_total', help: 'Bytes from the caller to the destination.', labelNames: pair, registers });
    this.bytesDown = new Counter({ name: 'shoal_proxy_received_bytes_total', help: 'Bytes from the destination back to the caller.', labelNames: pair, registers });
    this.denials = new Counter({ name: 'shoal_proxy_intention_denials_total', help: 'Connections refused by intentions.', labelNames: ['source', 'destination'], registers });
    this.ejections = new Counter({ name: 'shoal_proxy_ejections_total', help: 'Endpoints ejected by outlier detection.', labelNames: ['source', 'destination'], registers });
    this.ejected = new Gauge({ name: 'shoal_proxy_ejected_endpoints', help: 'Endpoints ejected now.', labelNames: ['source', 'destination'], registers });
    this.tunnels = new Gauge({ name: 'shoal_proxy_tunnels', help: 'mTLS tunnel connections (HTTP/2) open to other proxies.', labelNames: ['source', 'destination'], registers });
    this.tunnelHandshakes = new Counter({
      name: 'shoal_proxy_tunnel_handshakes_total', help: 'mTLS handshakes to other proxies, by whether the TLS session was resumed.', labelNames: ['resumed'], registers,
    });
    this.listeners = new Gauge({ name: 'shoal_proxy_listeners', help: 'Listeners open, by kind.', labelNames: ['kind'], registers });
    this.accessLogDropped = new Counter({
      name: 'shoal_proxy_access_log_dropped_lines_total', help: 'Access-log lines lost because the agent\'s stdout would not take them.', registers,
    });
  }

  /** A connection was accepted; returns the pair's stats for `finished`. */
  started(direction: Direction, source: string, destination: string): PairStats {
    const key = `${direction}\u0000${source}\u0000${destination}`;
    let p = this.pairs.get(key);
    if (p === undefined) {
      const labels = { source, destination, direction };
      p = {
        opened: this.opened.labels(labels), active: this.active.labels(labels), duration: this.duration.labels(labels),
        bytesUp: this.bytesUp.labels(labels), bytesDown: this.bytesDown.labels(labels),
        closedOk: this.closed.labels({ ...labels, outcome: 'ok', reason: '' }),
      };
      this.pairs.set(key, p);
    }
    p.opened.inc();
    p.active.inc();
    return p;
  }

  /** A connection ended; `stats` from `started` (undefined when it never was, e.g. a refused handshake). */
  finished(r: ConnectionReport, stats: PairStats | undefined): void {
    if (stats !== undefined) {
      stats.active.dec();
      stats.duration.observe(r.durationMs / 1000);
      if (r.bytesUp > 0) stats.bytesUp.inc(r.bytesUp);
      if (r.bytesDown > 0) stats.bytesDown.inc(r.bytesDown);
    }
    if (stats !== undefined && r.outcome === 'ok') stats.closedOk.inc();
    else this.closed.inc({ source: r.source, destination: r.destination, direction: r.direction, outcome: r.outcome, reason: r.reason });
    if (r.outcome === 'denied') this.denials.inc({ source: r.source, destination: r.destination });
    if (this.accessLogEnabled) this.accessLog?.write({
      direction: r.direction, source: r.sourceId || r.source, destination: r.destinationId || r.destination, endpoint: r.endpoint,
      bytes_sent: r.bytesUp, bytes_received: r.bytesDown, duration_ms: Math.round(r.durationMs * 10) / 10, outcome: r.outcome,
      ...(r.reason === '' ? {} : { reason: r.detail ?? r.reason }), ...(r.attempts === undefined ? {} : { attempts: r.attempts }),
    });
  }

  ejectedEndpoint(source: string, destination: string): void {
    this.ejections.inc({ source, destination });
  }

  handshake(resumed: boolean): void {
    this.tunnelHandshakes.inc({ resumed: String(resumed) });
  }
}

/** Short, label-safe reason from a TLS or socket error. */
export function errorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  if (typeof e?.code === 'string' && e.code !== '') return e.code.toLowerCase().replace(/^err_/, '').slice(0, 64);
  return String(e?.message ?? err).toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 64);
}
