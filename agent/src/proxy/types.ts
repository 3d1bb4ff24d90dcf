/**
 * What the data plane runs, as one serializable snapshot. The agent's main thread builds it from the
 * local registry (sidecars and their upstreams), the catalog and gossip (endpoints), the config
 * entries (intentions, resolvers) and the CA (leaves, roots), and posts it to the proxy worker on
 * every change; the worker diffs it against what runs. Plain data only: it crosses a thread boundary.
 */
import type { ConfigEntry } from '../config-entries';

/** Load-balancing policies (Consul's `service-resolver` LoadBalancer.Policy names). */
export type LbPolicy = 'round_robin' | 'least_request' | 'random';

/** The certificate a proxy presents for one local service. */
export interface ServiceCert {
  /** Leaf followed by the chain to present. */
  certPem: string;
  keyPem: string;
  spiffeId: string;
}

/** One inbound mTLS listener: a local service with a sidecar. */
export interface InboundSpec {
  /** Sidecar service id (e.g. `api-sidecar-proxy`), for logs. */
  proxyId: string;
  /** The destination service whose identity the listener presents and whose intentions apply. */
  service: string;
  /** Its SPIFFE ID (for the access log). */
  spiffeId: string;
  host: string;
  port: number;
  /** Where the local application listens. */
  localAddress: string;
  localPort: number;
  /** Consul's `local_connect_timeout_ms` (proxy config); 5 s default. */
  localConnectTimeoutMs: number;
  /** Consul's `local_idle_timeout_ms`: a connection with no bytes either way is closed after it; 1 h default. */
  idleTimeoutMs: number;
}

/** One instance of an upstream's destination: a sidecar (inbound listener) on some node. */
export interface EndpointSpec {
  /** Stable id: `<node>/<sidecar service id>`. */
  id: string;
  node: string;
  host: string;
  port: number;
  /** The identity the endpoint must present. */
  spiffeId: string;
  /** TLS server name: `<service>.<ns>.<dc>.internal.<trust-domain>` (gateways route on it). */
  sni: string;
}

/** Passive outlier detection (Consul's `PassiveHealthCheck`). */
export interface OutlierSpec {
  /** Consecutive connect failures that eject an endpoint (MaxFailures): 5. */
  consecutiveFailures: number;
  /** First ejection time; the n-th ejection lasts n times as long (BaseEjectionTime): 30 s. */
  baseEjectionMs: number;
  /** Most endpoints ejected at once, as a percentage (at least one may always be ejected): 10. */
  maxEjectionPercent: number;
}

/** One upstream listener of a local sidecar. */
export interface UpstreamSpec {
  proxyId: string;
  /** The local service that calls (its identity is presented). */
  source: string;
  /** Its SPIFFE ID (for the access log). */
  sourceSpiffeId: string;
  destination: string;
  datacenter: string;
  bindAddress: string;
  bindPort: number;
  /** TCP + TLS + tunnel stream, per attempt (resolver ConnectTimeout or upstream `connect_timeout_ms`): 5 s. */
  connectTimeoutMs: number;
  /** Endpoints tried per connection before giving up: 3. */
  maxAttempts: number;
  policy: LbPolicy;
  outlier: OutlierSpec;
  idleTimeoutMs: number;
  /** Healthy endpoints (passing or warning checks, gossip alive); the outlier detector filters further. */
  endpoints: EndpointSpec[];
}

/** The whole data plane. */
export interface ProxySnapshot {
  trustDomain: string;
  datacenter: string;
  nodeName: string;
  defaultIntentionPolicy: 'allow' | 'deny';
  /** Root PEMs peers must chain to. */
  roots: string[];
  /** Certificate per local service name (only services with a leaf; a listener without one waits). */
  certs: Record<string, ServiceCert>;
  /** `service-intentions` entries. */
  intentions: ConfigEntry[];
  inbound: InboundSpec[];
  upstreams: UpstreamSpec[];
  /** One JSON line per connection on the agent's log. */
  accessLogs: boolean;
}

/** Main thread -> worker. */
export type ToWorker =
  | { t: 'snapshot'; snapshot: ProxySnapshot }
  | { t: 'metrics'; id: number }
  | { t: 'stop' };

/** Worker -> main thread. */
export type FromWorker =
  | { t: 'metrics'; id: number; text: string }
  | { t: 'listener'; kind: 'inbound' | 'upstream'; key: string; ok: boolean; error?: string; port?: number }
  | { t: 'stopped' };

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_OUTLIER: OutlierSpec = { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 };
