/**
 * The catalog's data model, shared by the local registry (services and checks defined on this
 * agent), the replicated catalog (every node's services, spread by gossip), the HTTP API and DNS.
 * Field names are camelCase here; the HTTP layer converts to Consul's PascalCase shapes.
 */

/** Health of a check, as Consul names it. `maintenance` is reported as critical with a note. */
export type HealthStatus = 'passing' | 'warning' | 'critical';

/** Consul's service kinds that Shoal uses. */
export type ServiceKind = '' | 'connect-proxy';

/** One upstream of a sidecar proxy (Consul's `upstreams` block). */
export interface Upstream {
  destinationName: string;
  destinationNamespace: string;
  /** Cluster (datacenter) of the destination; '' = this one. */
  datacenter: string;
  localBindAddress: string;
  localBindPort: number;
  config: Readonly<Record<string, unknown>>;
}

/** A sidecar proxy's settings (Consul's `proxy` block on a connect-proxy service). */
export interface ProxyConfig {
  destinationServiceName: string;
  destinationServiceId: string;
  localServiceAddress: string;
  localServicePort: number;
  upstreams: readonly Upstream[];
  config: Readonly<Record<string, unknown>>;
}

/** A registered service instance (Consul's AgentService). Sidecars are instances of kind connect-proxy. */
export interface ServiceRecord {
  id: string;
  name: string;
  kind: ServiceKind;
  /** '' means the node's address. */
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  weights: { passing: number; warning: number };
  enableTagOverride: boolean;
  namespace: string;
  /** Set for kind connect-proxy. */
  proxy?: ProxyConfig;
  /** Where it came from: a config file (path) or the HTTP API ('api'). */
  source: string;
}

/**
 * Check types. `serf` is the node-health check that follows gossip state; `maintenance` the
 * critical check that service or node maintenance mode adds (Consul's type of the same name).
 */
export type CheckType = 'http' | 'tcp' | 'grpc' | 'script' | 'ttl' | 'alias' | 'serf' | 'maintenance';

/** A check's current state (Consul's HealthCheck). */
export interface CheckRecord {
  checkId: string;
  name: string;
  status: HealthStatus;
  notes: string;
  /** Last output, at most 4 KiB. */
  output: string;
  /** '' for node-level checks. */
  serviceId: string;
  serviceName: string;
  serviceTags: readonly string[];
  type: CheckType;
  /** Interval and timeout for display, e.g. "10s"; '' when not applicable. */
  interval: string;
  timeout: string;
}

/**
 * Version of one node's catalog state. `generation` changes every time the agent process starts
 * (its start time in wall ms), `seq` increments on every change within a generation; compare
 * generation first. A restarted agent thus always supersedes what its previous run spread.
 */
export interface NodeVersion {
  generation: number;
  seq: number;
}

/** One node's whole catalog state, as it spreads by gossip. */
export interface NodeCatalog {
  node: string;
  /** Node address (its gossip advertise address host). */
  address: string;
  datacenter: string;
  /** Node metadata (region, zone, ...). */
  meta: Readonly<Record<string, string>>;
  version: NodeVersion;
  services: readonly ServiceRecord[];
  checks: readonly CheckRecord[];
}

/** Orders two versions: negative when a is older than b. */
export function compareVersions(a: NodeVersion, b: NodeVersion): number {
  return a.generation !== b.generation ? a.generation - b.generation : a.seq - b.seq;
}

/** A service instance joined with its node and checks, the unit of `/v1/health/service`. */
export interface ServiceInstance {
  node: NodeCatalog;
  service: ServiceRecord;
  /** Node checks plus this service's checks. */
  checks: readonly CheckRecord[];
}

/** The aggregate status of a set of checks: critical beats warning beats passing. */
export function aggregateStatus(checks: readonly CheckRecord[]): HealthStatus {
  let worst: HealthStatus = 'passing';
  for (const c of checks) {
    if (c.status === 'critical') return 'critical';
    if (c.status === 'warning') worst = 'warning';
  }
  return worst;
}

/**
 * A source of a monotonically increasing index with change notification (Consul's X-Consul-Index).
 * Same contract as `IndexSource` in http/blocking.ts.
 */
export interface Indexed {
  index(): number;
  subscribe(fn: () => void): () => void;
}

/** What the HTTP API and DNS read: the replicated catalog as this agent sees it. */
export interface CatalogReader extends Indexed {
  /** Every node with a catalog entry whose gossip state is alive or suspect. */
  nodes(): NodeCatalog[];
  node(name: string): NodeCatalog | undefined;
  /** Service name to the union of its instances' tags. */
  services(): Map<string, string[]>;
  /** Instances of `name` on live nodes, optionally only those with `tag` and/or passing checks. */
  instances(name: string, opts?: { tag?: string; passingOnly?: boolean; connect?: boolean }): ServiceInstance[];
  /** Checks of every instance of service `name`. */
  serviceChecks(name: string): CheckRecord[];
  /** Checks in `status` ('any' for all) on live nodes. */
  checksInState(status: HealthStatus | 'any'): CheckRecord[];
}

/** A refused registration or config entry: every problem, each naming the field. */
export interface ValidationProblem {
  /** Where: a file path, or 'request body'. */
  source: string;
  /** Dotted path of the field, e.g. `service.checks[0].interval`. */
  field: string;
  message: string;
}

/** What the HTTP API needs from this agent's own services and checks (the local registry). */
export interface LocalServices extends Indexed {
  /** Services registered on this agent (sidecars included), sorted by id. */
  services(): ServiceRecord[];
  /** Checks on this agent, the node-health check included, sorted by id. */
  checks(): CheckRecord[];
  /**
   * Registers (or replaces) a service from a Consul-shaped definition (`PUT
   * /v1/agent/service/register` body, PascalCase or snake_case), with its checks and sidecar. Persisted
   * in the data dir so it survives restarts. Rejects with a `ValidationError` listing every problem.
   */
  register(definition: unknown): Promise<ServiceRecord>;
  /** Removes an API-registered service (and its sidecar and checks); false when unknown. */
  deregister(serviceId: string): Promise<boolean>;
  /** Puts a service into (or out of) maintenance: a critical `_service_maintenance:<id>` check. */
  setMaintenance(serviceId: string, enable: boolean, reason: string): boolean;
  /** Updates a TTL check (`/v1/agent/check/pass|warn|fail/:id`); false when no such TTL check. */
  updateTtl(checkId: string, status: HealthStatus, note: string): boolean;
}

/** Thrown for refused input, carrying every problem found. */
export class ValidationError extends Error {
  readonly code = 'SHOAL_ERR_VALIDATION';

  constructor(readonly problems: readonly ValidationProblem[]) {
    super(problems.map((p) => `${p.source}: ${p.field}: ${p.message}`).join('\n'));
    this.name = 'ValidationError';
  }
}
