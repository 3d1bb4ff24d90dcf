/**
 * The data plane: applies snapshots to running listeners. It runs in the proxy worker thread (see
 * worker.ts) and, in tests, in the test's own thread.
 *
 * - Certificates or roots changed: inbound listeners switch their secure context for new handshakes,
 *   the tunnel pool starts a new generation (old tunnels drain). Nothing open is cut.
 * - Intentions or the default policy changed: a new authorizer; every later connection or stream is
 *   decided by it.
 * - Listeners are matched by address; a changed spec updates in place, a removed one stops accepting
 *   (its connections finish), a new one binds. A listener that could not bind, or whose service has no
 *   certificate yet, is retried at the next snapshot.
 */
import type { SecureContextOptions } from 'node:tls';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import { loggerSink, type AccessLogSink } from './access-log';
import { Authorizer } from './authorizer';
import { InboundListener } from './inbound';
import { UpstreamListener } from './outbound';
import { ProxyMetrics } from './proxy-metrics';
import { TunnelPool } from './tunnels';
import type { InboundSpec, ProxySnapshot, ServiceCert } from './types';

/** A listener's state, as reported to the agent. */
export interface ListenerStatus {
  kind: 'inbound' | 'upstream';
  key: string;
  ok: boolean;
  error?: string;
  port?: number;
}

/** Options of ProxyEngine. */
export interface ProxyEngineOptions {
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Access log destination; default: the engine's logger. */
  accessLog?: AccessLogSink;
  /** Told when a listener binds or fails. */
  onListener?: (s: ListenerStatus) => void;
}

interface InboundEntry {
  listener: InboundListener | undefined;
  spec: InboundSpec;
  certKey: string;
  binding: Promise<void> | undefined;
}

interface UpstreamEntry {
  listener: UpstreamListener;
  bound: boolean;
  binding: Promise<void> | undefined;
}

/** The proxy. */
export class ProxyEngine {
  readonly metrics: ProxyMetrics;
  readonly tunnels: TunnelPool;
  private snapshot: ProxySnapshot | undefined;
  private authorizer = new Authorizer([], '', 'deny');
  private materialKey = '';
  private readonly inbound = new Map<string, InboundEntry>();
  private readonly upstreams = new Map<string, UpstreamEntry>();
  private readonly log: Logger;
  private readonly reported = new Map<string, string>();

  constructor(private readonly o: ProxyEngineOptions) {
    this.log = o.logger.child({ component: 'proxy' });
    this.metrics = new ProxyMetrics(o.accessLog ?? loggerSink(this.log));
    this.tunnels = new TunnelPool({ clock: o.clock, metrics: this.metrics });
  }

  /** Applies a snapshot; resolves once every listener that can bind is bound. */
  async apply(s: ProxySnapshot): Promise<void> {
    this.snapshot = s;
    this.metrics.accessLogEnabled = s.accessLogs;
    this.authorizer = new Authorizer(s.intentions, s.trustDomain, s.defaultIntentionPolicy);
    const material = materialKey(s.roots, s.certs);
    const materialChanged = material !== this.materialKey;
    if (materialChanged) {
      this.materialKey = material;
      this.tunnels.setMaterial(s.roots, s.certs);
    }
    await Promise.all([this.applyInbound(s, materialChanged), this.applyUpstreams(s)]);
    this.updateGauges();
  }

  /** Prometheus text of the proxy's metrics. */
  async metricsText(): Promise<string> {
    this.updateGauges();
    return this.metrics.registry.metrics();
  }

  /** Stops every listener and cuts open connections. */
  stop(): void {
    for (const e of this.inbound.values()) e.listener?.destroy();
    for (const e of this.upstreams.values()) e.listener.destroy();
    this.inbound.clear();
    this.upstreams.clear();
    this.tunnels.close();
  }

  /** The upstream listener bound at `bindAddress:bindPort` (tests). */
  upstream(key: string): UpstreamListener | undefined {
    return this.upstreams.get(key)?.listener;
  }

  private async applyInbound(s: ProxySnapshot, materialChanged: boolean): Promise<void> {
    const want = new Map(s.inbound.map((spec) => [`${spec.host}:${spec.port}`, spec]));
    for (const [key, e] of this.inbound) {
      if (!want.has(key)) {
        e.listener?.close();
        this.inbound.delete(key);
        this.log.info({ listener: key, service: e.spec.service }, 'inbound listener closed');
      }
    }
    const binds: Promise<void>[] = [];
    for (const [key, spec] of want) {
      const cert = s.certs[spec.service];
      let e = this.inbound.get(key);
      if (e === undefined) {
        e = { listener: undefined, spec, certKey: '', binding: undefined };
        this.inbound.set(key, e);
      }
      e.spec = spec;
      if (cert === undefined) {
        if (e.listener === undefined) this.report({ kind: 'inbound', key, ok: false, error: `waiting for the certificate of ${spec.service}` });
        continue;
      }
      const certKey = cert.certPem + cert.keyPem;
      if (e.listener !== undefined) {
        e.listener.update(spec);
        if (materialChanged || e.certKey !== certKey) e.listener.setTls(tlsOf(cert, s.roots));
        e.certKey = certKey;
        continue;
      }
      if (e.binding !== undefined) continue;
      const entry = e;
      const listener = new InboundListener(spec, tlsOf(cert, s.roots), {
        clock: this.o.clock, metrics: this.metrics, authorizer: () => this.authorizer,
      });
      entry.binding = listener.listen().then(
        (port) => {
          entry.listener = listener;
          entry.certKey = certKey;
          this.log.info({ listener: key, service: spec.service, local: `${spec.localAddress}:${spec.localPort}` }, 'inbound listener open');
          this.report({ kind: 'inbound', key, ok: true, port });
          // The spec or material may have moved on while binding.
          const cur = this.snapshot?.certs[entry.spec.service];
          listener.update(entry.spec);
          if (cur !== undefined && cur.certPem + cur.keyPem !== certKey) listener.setTls(tlsOf(cur, this.snapshot!.roots));
        },
        (err: Error) => this.report({ kind: 'inbound', key, ok: false, error: `${spec.proxyId}: cannot listen on ${key}: ${err.message}` }),
      ).finally(() => {
        entry.binding = undefined;
        if (this.inbound.get(key) !== entry) listener.destroy();
      });
      binds.push(entry.binding);
    }
    await Promise.all(binds);
  }

  private async applyUpstreams(s: ProxySnapshot): Promise<void> {
    const want = new Map(s.upstreams.map((spec) => [`${spec.bindAddress}:${spec.bindPort}`, spec]));
    for (const [key, e] of this.upstreams) {
      if (!want.has(key)) {
        e.listener.close();
        this.upstreams.delete(key);
        this.log.info({ listener: key, destination: e.listener.current.destination }, 'upstream listener closed');
      }
    }
    const binds: Promise<void>[] = [];
    for (const [key, spec] of want) {
      let e = this.upstreams.get(key);
      if (e === undefined) {
        e = { listener: new UpstreamListener(spec, { clock: this.o.clock, random: this.o.random, metrics: this.metrics, tunnels: this.tunnels, logger: this.log }), bound: false, binding: undefined };
        this.upstreams.set(key, e);
      } else {
        e.listener.update(spec);
      }
      if (e.bound || e.binding !== undefined) continue;
      const entry = e;
      entry.binding = entry.listener.listen().then(
        (port) => {
          entry.bound = true;
          this.log.info({ listener: key, source: spec.source, destination: spec.destination, endpoints: spec.endpoints.length }, 'upstream listener open');
          this.report({ kind: 'upstream', key, ok: true, port });
        },
        (err: Error) => this.report({ kind: 'upstream', key, ok: false, error: `${spec.proxyId}: upstream ${spec.destination}: cannot listen on ${key}: ${err.message}` }),
      ).finally(() => {
        entry.binding = undefined;
        if (this.upstreams.get(key) !== entry) entry.listener.destroy();
      });
      binds.push(entry.binding);
    }
    await Promise.all(binds);
  }

  private updateGauges(): void {
    let inbound = 0;
    for (const e of this.inbound.values()) if (e.listener !== undefined) inbound++;
    let upstream = 0;
    for (const e of this.upstreams.values()) {
      if (e.bound) upstream++;
      const spec = e.listener.current;
      this.metrics.ejected.set({ source: spec.source, destination: spec.destination }, e.listener.balancer.ejectedCount());
    }
    this.metrics.listeners.set({ kind: 'inbound' }, inbound);
    this.metrics.listeners.set({ kind: 'upstream' }, upstream);
  }

  private report(s: ListenerStatus): void {
    const said = `${s.ok}\u0000${s.error ?? ''}`;
    if (this.reported.get(s.key) === said) return;
    this.reported.set(s.key, said);
    if (!s.ok) this.log.warn({ listener: s.key, kind: s.kind, err: s.error }, 'listener not open');
    this.o.onListener?.(s);
  }
}

function tlsOf(cert: ServiceCert, roots: readonly string[]): SecureContextOptions {
  return { cert: cert.certPem, key: cert.keyPem, ca: [...roots] };
}

function materialKey(roots: readonly string[], certs: Record<string, ServiceCert>): string {
  const parts = [...roots];
  for (const name of Object.keys(certs).sort()) parts.push(name, certs[name]!.certPem);
  return parts.join('\u0000');
}
