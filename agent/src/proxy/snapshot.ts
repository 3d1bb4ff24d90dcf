/**
 * Builds the data plane's snapshot from what the agent knows. Pure: every input is passed in, so the
 * rules are unit-tested without sockets.
 *
 * - Inbound: one listener per local sidecar (kind connect-proxy with a destination), on the sidecar's
 *   address (else the agent's bind host) and port, forwarding to `local_service_address:port`.
 * - Upstreams: one listener per declared upstream of a local sidecar. Its endpoints are the sidecars
 *   of the destination in this cluster whose node is gossip-alive (a suspect node leaves at once) and
 *   whose own checks, the destination service's checks on that node and the node's checks are not
 *   critical (passing and warning both serve, as in Consul's DNS and health APIs).
 * - Settings: load-balancing policy and connect timeout from the destination's `service-resolver`;
 *   `connect_timeout_ms` in the upstream's config wins over it. Outlier detection from the upstream's
 *   `passive_health_check` config, else the source's `service-defaults` UpstreamConfig (Overrides for
 *   the destination, then Defaults), else Envoy's defaults. Timeouts of the inbound side from the
 *   sidecar's proxy config (`local_connect_timeout_ms`, `local_idle_timeout_ms`).
 */
import type { CatalogReader, CheckRecord, LocalServices, ServiceRecord, Upstream } from '../catalog/types';
import type { ConfigEntries, ConfigEntry } from '../config-entries';
import { nestedObject } from '../catalog/definition-proxy-config';
import { durationMs } from '../config-entries/kinds/schema';
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_OUTLIER, type EndpointSpec, type InboundSpec, type LbPolicy,
  type OutlierSpec, type ProxySnapshot, type ServiceCert, type UpstreamSpec,
} from './types';

/** Everything a snapshot is built from. */
export interface SnapshotInputs {
  trustDomain: string;
  datacenter: string;
  nodeName: string;
  /** Host inbound listeners bind when the sidecar names no address. */
  bindHost: string;
  defaultIntentionPolicy: 'allow' | 'deny';
  local: Pick<LocalServices, 'services'>;
  catalog: Pick<CatalogReader, 'instances' | 'node'> | undefined;
  /** Gossip state of a node by name ('alive', 'suspect', ...); undefined if unknown. */
  memberState: (node: string) => string | undefined;
  configEntries: Pick<ConfigEntries, 'get' | 'list'>;
  roots: string[];
  /** Leaf of a local service, or undefined while there is none. */
  leaf: (service: string) => ServiceCert | undefined;
}

/** The SPIFFE ID of a service. */
export function serviceSpiffeId(trustDomain: string, namespace: string, datacenter: string, service: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/dc/${datacenter}/svc/${service}`;
}

/** The TLS server name of a service, as mesh gateways route on it. */
export function serviceSni(trustDomain: string, namespace: string, datacenter: string, service: string): string {
  return `${service}.${namespace}.${datacenter}.internal.${trustDomain}`;
}

/** Builds the snapshot. */
export function buildSnapshot(i: SnapshotInputs): ProxySnapshot {
  const sidecars = i.local.services().filter((s) => s.kind === 'connect-proxy' && s.proxy !== undefined && s.proxy.destinationServiceName !== '');
  const inbound: InboundSpec[] = [];
  const upstreams: UpstreamSpec[] = [];
  const certs: Record<string, ServiceCert> = {};
  for (const sc of sidecars) {
    const proxy = sc.proxy!;
    const service = proxy.destinationServiceName;
    const cert = i.leaf(service);
    if (cert !== undefined) certs[service] = cert;
    inbound.push({
      proxyId: sc.id, service, spiffeId: serviceSpiffeId(i.trustDomain, sc.namespace || 'default', i.datacenter, service), host: sc.address !== '' ? sc.address : i.bindHost, port: sc.port,
      localAddress: proxy.localServiceAddress || '127.0.0.1', localPort: proxy.localServicePort,
      localConnectTimeoutMs: msOf(proxy.config['local_connect_timeout_ms'], DEFAULT_CONNECT_TIMEOUT_MS),
      idleTimeoutMs: msOf(proxy.config['local_idle_timeout_ms'], DEFAULT_IDLE_TIMEOUT_MS),
    });
    for (const u of proxy.upstreams) upstreams.push(upstreamSpec(i, sc, service, u));
  }
  return {
    trustDomain: i.trustDomain, datacenter: i.datacenter, nodeName: i.nodeName, defaultIntentionPolicy: i.defaultIntentionPolicy,
    roots: i.roots, certs, intentions: i.configEntries.list('service-intentions').map((s) => s.entry), inbound, upstreams,
    // On unless the global proxy-defaults entry says `AccessLogs { Enabled = false }`.
    accessLogs: record(i.configEntries.get('proxy-defaults', 'global')?.entry['AccessLogs'])['Enabled'] !== false,
  };
}

function upstreamSpec(i: SnapshotInputs, sidecar: ServiceRecord, source: string, u: Upstream): UpstreamSpec {
  const dest = u.destinationName;
  const ns = u.destinationNamespace || 'default';
  const dc = u.datacenter || i.datacenter;
  const resolver = i.configEntries.get('service-resolver', dest)?.entry;
  const lb = record(resolver?.['LoadBalancer']);
  const policy = lbPolicy(lb['Policy']);
  const resolverTimeout = durationMs(resolver?.['ConnectTimeout']);
  const connectTimeoutMs = msOf(u.config['connect_timeout_ms'], resolverTimeout > 0 ? resolverTimeout : DEFAULT_CONNECT_TIMEOUT_MS);
  return {
    proxyId: sidecar.id, source, sourceSpiffeId: serviceSpiffeId(i.trustDomain, sidecar.namespace || 'default', i.datacenter, source), destination: dest, datacenter: dc,
    bindAddress: u.localBindAddress || '127.0.0.1', bindPort: u.localBindPort,
    connectTimeoutMs, maxAttempts: Math.max(1, Math.min(10, msOf(u.config['max_attempts'], DEFAULT_MAX_ATTEMPTS))), policy,
    outlier: outlierSpec(u, i.configEntries.get('service-defaults', source)?.entry, dest),
    idleTimeoutMs: msOf(u.config['idle_timeout_ms'], DEFAULT_IDLE_TIMEOUT_MS),
    endpoints: dc === i.datacenter ? endpoints(i, dest, ns) : [],
  };
}

/** Healthy sidecars of `dest` in this cluster. */
function endpoints(i: SnapshotInputs, dest: string, ns: string): EndpointSpec[] {
  if (i.catalog === undefined) return [];
  const out: EndpointSpec[] = [];
  for (const inst of i.catalog.instances(dest, { connect: true })) {
    const node = inst.node;
    if (i.memberState(node.node) !== 'alive') continue;
    const sc = inst.service;
    const destId = sc.proxy?.destinationServiceId ?? '';
    const relevant = (c: CheckRecord): boolean => c.serviceId === '' || c.serviceId === sc.id || (destId !== '' && c.serviceId === destId);
    if (node.checks.some((c) => relevant(c) && c.status === 'critical')) continue;
    out.push({
      id: `${node.node}/${sc.id}`, node: node.node, host: sc.address !== '' ? sc.address : node.address, port: sc.port,
      spiffeId: serviceSpiffeId(i.trustDomain, ns, node.datacenter, dest), sni: serviceSni(i.trustDomain, ns, node.datacenter, dest),
    });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function outlierSpec(u: Upstream, serviceDefaults: ConfigEntry | undefined, dest: string): OutlierSpec {
  const own = nestedObject(u.config['passive_health_check']) ?? {};
  if (Object.keys(own).length > 0) {
    return {
      consecutiveFailures: intOf(own['max_failures'], DEFAULT_OUTLIER.consecutiveFailures),
      baseEjectionMs: msOf(own['base_ejection_time'], DEFAULT_OUTLIER.baseEjectionMs),
      maxEjectionPercent: intOf(own['max_ejection_percent'], DEFAULT_OUTLIER.maxEjectionPercent),
    };
  }
  const uc = record(serviceDefaults?.['UpstreamConfig']);
  const overrides = Array.isArray(uc['Overrides']) ? (uc['Overrides'] as unknown[]).map(record) : [];
  const chosen = overrides.find((o) => o['Name'] === dest) ?? record(uc['Defaults']);
  const phc = record(chosen['PassiveHealthCheck']);
  return {
    consecutiveFailures: intOf(phc['MaxFailures'], DEFAULT_OUTLIER.consecutiveFailures),
    baseEjectionMs: phc['BaseEjectionTime'] !== undefined ? durationMs(phc['BaseEjectionTime']) || DEFAULT_OUTLIER.baseEjectionMs : DEFAULT_OUTLIER.baseEjectionMs,
    maxEjectionPercent: intOf(phc['MaxEjectionPercent'], DEFAULT_OUTLIER.maxEjectionPercent),
  };
}

function lbPolicy(v: unknown): LbPolicy {
  // ring_hash and maglev need a hash key that a TCP proxy does not have: they balance round robin.
  return v === 'least_request' || v === 'random' ? v : 'round_robin';
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A positive millisecond count from a number or a duration string ("5s"); else the default. */
function msOf(v: unknown, dflt: number): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.floor(v);
  if (typeof v === 'string') {
    const n = /^\d+$/.test(v) ? Number(v) : durationMs(v);
    if (n > 0) return n;
  }
  return dflt;
}

function intOf(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : dflt;
}
