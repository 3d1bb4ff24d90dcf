/**
 * The agent's metrics registry. One per agent, never prom-client's global one, so tests can run
 * several agents in one process without their series colliding. Everything registered here passes
 * `promtool check metrics`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GossipMetricFamilies } from './gossip-metrics';

/**
 * prom-client's default process metrics that fail promtool's lint: gauges named `_total`. The same
 * numbers are exported per type by `nodejs_active_handles`, `nodejs_active_requests` and
 * `nodejs_active_resources`, which pass.
 */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Latency buckets for the HTTP API, in seconds: 1 ms to 10 s (blocking queries live in the long tail). */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Options of AgentMetrics. */
export interface AgentMetricsOptions {
  /** Include Node process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  version: string;
  revision: string;
}

/** Observes HTTP API requests. */
export interface HttpMetrics {
  /** One finished request: `route` is the route pattern (bounded cardinality), never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void;
}

/** The registry and the metric families of one agent. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly gossip: GossipMetricFamilies;
  readonly http: HttpMetrics;

  constructor(opts: AgentMetricsOptions) {
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    new Gauge({ name: 'shoal_build_info', help: 'Always 1; labels carry the running version.', labelNames: ['version', 'revision'], registers })
      .set({ version: opts.version, revision: opts.revision }, 1);
    this.gossip = new GossipMetricFamilies(this.registry);
    const requests = new Counter({
      name: 'shoal_http_requests_total',
      help: 'HTTP API requests by method, route pattern and status code.',
      labelNames: ['method', 'route', 'code'],
      registers,
    });
    const duration = new Histogram({
      name: 'shoal_http_request_duration_seconds',
      help: 'HTTP API request latency by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.http = {
      request(method, route, status, seconds) {
        requests.inc({ method, route, code: String(status) });
        duration.observe({ method, route }, seconds);
      },
    };
  }

  /** The Prometheus text exposition (format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
