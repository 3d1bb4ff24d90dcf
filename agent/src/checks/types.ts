/**
 * Check definitions as the runners consume them (validated and normalized by the catalog's
 * definition parser) and the results a check produces. Durations are milliseconds.
 */
import type { HealthStatus } from '../catalog/types';

/** `http = "https://..."`: GET (or `method`) the URL; 2xx passing, 429 warning, anything else critical. */
export interface HttpCheckSpec {
  type: 'http';
  url: string;
  method: string;
  /** Header name to its values, each sent as its own header line. */
  header: Readonly<Record<string, readonly string[]>>;
  body: string;
  tlsSkipVerify: boolean;
  /** SNI and certificate name to verify; '' means the URL's host. */
  tlsServerName: string;
  /** Follow no redirects (Consul's `disable_redirects`); by default up to 10 are followed, as Go's client does. */
  disableRedirects: boolean;
}

/** `tcp = "host:port"`: passing when a connection opens. */
export interface TcpCheckSpec {
  type: 'tcp';
  host: string;
  port: number;
}

/** `grpc = "host:port[/service]"`: the standard grpc.health.v1.Health/Check; SERVING is passing. */
export interface GrpcCheckSpec {
  type: 'grpc';
  /** host:port as grpc-js dials it. */
  target: string;
  /** Service name asked about; '' asks about the server as a whole. */
  service: string;
  useTls: boolean;
  tlsSkipVerify: boolean;
  tlsServerName: string;
}

/** `args = ["cmd", ...]`: run without a shell; exit 0 passing, 1 warning, else critical. */
export interface ScriptCheckSpec {
  type: 'script';
  args: readonly string[];
}

/** `ttl = "30s"`: the application reports its status; critical when no report arrives within the TTL. */
export interface TtlCheckSpec {
  type: 'ttl';
  ttlMs: number;
}

/** `alias_service` (+ `alias_node`): mirrors the aggregate health of another service instance. */
export interface AliasCheckSpec {
  type: 'alias';
  /** Service ID (Consul's meaning); on the local node a service name also matches every instance of it. */
  service: string;
  /** '' means this node. */
  node: string;
}

/** What a check does, one of the supported kinds. */
export type CheckSpec = HttpCheckSpec | TcpCheckSpec | GrpcCheckSpec | ScriptCheckSpec | TtlCheckSpec | AliasCheckSpec;

/** A validated, normalized check. */
export interface CheckDefinition {
  id: string;
  name: string;
  notes: string;
  /** The service the check belongs to; '' for a node-level check. */
  serviceId: string;
  spec: CheckSpec;
  /** Between two runs (probing kinds); 0 for ttl and alias. */
  intervalMs: number;
  /** Longest a run may take: default 10 s, 30 s for scripts; 0 for ttl and alias. */
  timeoutMs: number;
  /** Consecutive successes needed before passing is reported (0 and 1 mean at once). */
  successBeforePassing: number;
  /** Consecutive failures before warning is reported; 0 means the critical threshold. */
  failuresBeforeWarning: number;
  /** Consecutive failures before critical is reported (0 and 1 mean at once). */
  failuresBeforeCritical: number;
  /** Deregister the service once this check stayed critical this long; 0 = never. */
  deregisterCriticalServiceAfterMs: number;
  /** Status until the first result: critical unless `status` says otherwise, as Consul. */
  initialStatus: HealthStatus;
  /** As shown by the API, e.g. "10s"; '' when not applicable. */
  intervalText: string;
  timeoutText: string;
}

/** The outcome of one run of a probing check. */
export interface CheckResult {
  status: HealthStatus;
  output: string;
}

/** One run of a probing check; settles promptly (critical) once `signal` aborts. Never rejects. */
export type Probe = (signal: AbortSignal) => Promise<CheckResult>;

/** Receives a check's reported status; the registry turns it into the CheckRecord. */
export type ReportFn = (result: CheckResult) => void;

/** A running check. */
export interface CheckRunner {
  start(): void;
  /** Stops scheduling and ends any run in flight (a script's process group is killed). */
  stop(): Promise<void>;
}
