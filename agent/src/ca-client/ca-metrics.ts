/**
 * The CA's metrics, registered on the agent's registry (prom-client, names pass promtool):
 * - `shoal_ca_leaf_expiry_seconds{identity}`: seconds until each current leaf expires, read at scrape time;
 * - `shoal_ca_sign_requests_total{outcome}` and `shoal_ca_sign_duration_seconds{outcome}`: the CA
 *   server's requests (servers only), through CaServer's metrics hook;
 * - `shoal_ca_rate_limited_total`: requests this server refused over its signing rate limit;
 * - `shoal_ca_client_requests_total{outcome}`: this agent's calls to CA servers.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CaServerMetrics } from '../../../ca/src';
import type { SignClientMetrics } from './sign-client';

/** Signing latency buckets, seconds: 0.1 ms (a bare signature) to 1 s. */
const SIGN_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What the metrics read at scrape time. */
export interface CaMetricSources {
  /** Current leaves: identity (SPIFFE ID) and expiry, Unix ms. */
  leaves(): Array<{ identity: string; notAfterMs: number }>;
  wallNow(): number;
}

/** The CA metric families of one agent. */
export class CaMetrics {
  readonly server: CaServerMetrics;
  readonly client: SignClientMetrics;

  constructor(registry: Registry, sources: CaMetricSources) {
    const registers = [registry];
    new Gauge({
      name: 'shoal_ca_leaf_expiry_seconds',
      help: 'Seconds until each of this agent\'s current leaf certificates expires, by SPIFFE ID.',
      labelNames: ['identity'],
      registers,
      collect() {
        this.reset();
        const now = sources.wallNow();
        for (const l of sources.leaves()) this.set({ identity: l.identity }, Math.max(0, (l.notAfterMs - now) / 1000));
      },
    });
    const requests = new Counter({ name: 'shoal_ca_sign_requests_total', help: 'CSR signing requests this CA server answered, by outcome.', labelNames: ['outcome'], registers });
    const duration = new Histogram({
      name: 'shoal_ca_sign_duration_seconds', help: 'Time this CA server took to answer a signing request, by outcome.', labelNames: ['outcome'], buckets: SIGN_BUCKETS, registers,
    });
    const limited = new Counter({ name: 'shoal_ca_rate_limited_total', help: 'Signing requests this CA server refused over its rate limit (retryable).', registers });
    const client = new Counter({ name: 'shoal_ca_client_requests_total', help: 'Calls this agent made to CA servers, by outcome.', labelNames: ['outcome'], registers });
    this.server = {
      request(outcome, seconds) {
        requests.inc({ outcome });
        duration.observe({ outcome }, seconds);
        if (outcome === 'rate_limited') limited.inc();
      },
    };
    this.client = { request: (outcome) => client.inc({ outcome }) };
  }
}
