/**
 * One upstream listener: a plain TCP listener on `local_bind_address:local_bind_port`. Each
 * application connection is held (paused, nothing read) while an endpoint is chosen and a tunnel
 * stream to it opens; a failed attempt (refused, TLS, timeout, the far application refused) counts
 * against that endpoint in the outlier detector and the next attempt goes to another endpoint, up to
 * `maxAttempts`. Only then do bytes flow, so a retry never replays anything.
 */
import type { ClientHttp2Stream } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import { listenTcp } from '../transport/listen';
import { Balancer } from './balancer';
import type { ProxyMetrics } from './proxy-metrics';
import { splice } from './splice';
import { AttemptError, type TunnelPool } from './tunnels';
import type { EndpointSpec, UpstreamSpec } from './types';

/** Options of UpstreamListener. */
export interface UpstreamOptions {
  clock: Clock;
  random: Random;
  metrics: ProxyMetrics;
  tunnels: TunnelPool;
  /** Ejections are logged here (warn), with the failure that caused them. */
  logger?: Logger;
}

/** One upstream listener with its balancer. */
export class UpstreamListener {
  readonly balancer: Balancer;
  private readonly server: Server;
  private readonly open = new Set<Socket>();

  constructor(private spec: UpstreamSpec, private readonly o: UpstreamOptions) {
    this.balancer = new Balancer(spec.policy, spec.outlier, o.clock, o.random, {
      ejected: (ep, forMs, ejections, cause) => {
        o.metrics.ejectedEndpoint(this.spec.source, this.spec.destination);
        o.logger?.warn({
          source: this.spec.source, destination: this.spec.destination, endpoint: endpointName(ep), ejectedForMs: forMs, ejections,
          reason: cause?.reason, err: cause?.message,
        }, 'upstream endpoint ejected after consecutive failures');
      },
    });
    this.balancer.update(spec.endpoints, spec.policy, spec.outlier);
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 }, (s) => {
      void this.handle(s);
    });
  }

  listen(): Promise<number> {
    return listenTcp(this.server, this.spec.bindAddress, this.spec.bindPort, 2048);
  }

  update(spec: UpstreamSpec): void {
    this.spec = spec;
    this.balancer.update(spec.endpoints, spec.policy, spec.outlier);
  }

  get current(): UpstreamSpec {
    return this.spec;
  }

  close(): void {
    this.server.close();
  }

  destroy(): void {
    this.server.close();
    for (const s of this.open) s.destroy();
  }

  private async handle(client: Socket): Promise<void> {
    const spec = this.spec;
    const started = this.o.clock.now();
    const stats = this.o.metrics.started('outbound', spec.source, spec.destination);
    this.open.add(client);
    let clientGone = false;
    const onClientError = (): void => {
      clientGone = true;
    };
    client.on('error', onClientError);
    client.once('close', () => {
      clientGone = true;
      this.open.delete(client);
    });
    const base = { direction: 'outbound' as const, source: spec.source, destination: spec.destination, sourceId: spec.sourceSpiffeId, destinationId: '' };
    const tried = new Set<string>();
    let last: AttemptError | undefined;
    let lastEp: EndpointSpec | undefined;
    for (let attempt = 1; attempt <= spec.maxAttempts && !clientGone; attempt++) {
      const ep = this.balancer.pick(tried);
      if (ep === undefined) break;
      tried.add(ep.id);
      lastEp = ep;
      let stream: ClientHttp2Stream;
      try {
        stream = await this.o.tunnels.open(ep, spec.source, spec.connectTimeoutMs);
      } catch (err) {
        last = err instanceof AttemptError ? err : new AttemptError('connect_failure', 'error', (err as Error).message);
        if (last.kind === 'denied') break;
        this.balancer.failure(ep.id, last);
        continue;
      }
      this.balancer.success(ep.id);
      if (clientGone) {
        stream.close();
        break;
      }
      this.balancer.opened(ep.id);
      client.off('error', onClientError);
      const r = await splice(client, stream, true, spec.idleTimeoutMs);
      this.balancer.closed(ep.id);
      this.o.metrics.finished({
        ...base, destinationId: ep.spiffeId, endpoint: endpointName(ep), bytesUp: r.bytesUp, bytesDown: r.bytesDown,
        durationMs: this.o.clock.now() - started, outcome: r.timedOut ? 'timeout' : 'ok', reason: r.timedOut ? 'idle_timeout' : '', attempts: attempt,
      }, stats);
      return;
    }
    client.destroy();
    const outcome = last?.kind ?? 'connect_failure';
    const reason = last?.reason ?? (clientGone ? 'client_closed' : 'no_healthy_endpoint');
    this.o.metrics.finished({
      ...base, destinationId: lastEp?.spiffeId ?? '', endpoint: lastEp === undefined ? '' : endpointName(lastEp), bytesUp: 0, bytesDown: 0, durationMs: this.o.clock.now() - started, outcome, reason,
      detail: last?.message ?? (clientGone ? 'the application closed the connection first' : `no healthy endpoint of ${spec.destination}`), attempts: tried.size,
    }, stats);
  }
}

function endpointName(ep: EndpointSpec): string {
  return `${ep.host}:${ep.port}`;
}
