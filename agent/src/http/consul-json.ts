/**
 * The catalog's records in Consul's JSON shapes (AgentService, HealthCheck, Node, CatalogService,
 * ServiceEntry), so Consul clients read Shoal's replies unchanged. Field names and nesting follow
 * Consul's API documentation; fields Shoal has no notion of are sent with Consul's empty values.
 *
 * Shoal has no per-object Raft index: `CreateIndex` and `ModifyIndex` carry the store index of the
 * reply (also sent as `X-Consul-Index`), which is what blocking clients compare anyway.
 */
import { isIP } from 'node:net';
import type { CheckRecord, NodeCatalog, ProxyConfig, ServiceInstance, ServiceRecord } from '../catalog/types';

/** Consul's `Weights`. */
export interface WeightsJson {
  Passing: number;
  Warning: number;
}

/** A sidecar's `Proxy` block. */
export interface ProxyJson {
  DestinationServiceName: string;
  DestinationServiceID: string;
  LocalServiceAddress: string;
  LocalServicePort: number;
  Mode: string;
  Config: Record<string, unknown>;
  Upstreams: UpstreamJson[];
  MeshGateway: Record<string, never>;
  Expose: Record<string, never>;
}

/** One upstream of a sidecar. */
export interface UpstreamJson {
  DestinationType: 'service';
  DestinationNamespace: string;
  DestinationName: string;
  Datacenter: string;
  LocalBindAddress: string;
  LocalBindPort: number;
  Config: Record<string, unknown>;
  MeshGateway: Record<string, never>;
}

/** A service instance as `/v1/agent/services` and `/v1/health/service` show it (Consul's AgentService). */
export interface AgentServiceJson {
  Kind?: string;
  ID: string;
  Service: string;
  Tags: string[];
  Meta: Record<string, string>;
  Port: number;
  Address: string;
  Weights: WeightsJson;
  EnableTagOverride: boolean;
  Namespace: string;
  Proxy?: ProxyJson;
  /** Only on agent endpoints. */
  Datacenter?: string;
  /** Only on catalog and health endpoints. */
  CreateIndex?: number;
  ModifyIndex?: number;
}

/** A check (Consul's HealthCheck). */
export interface HealthCheckJson {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  Type: string;
  Interval: string;
  Timeout: string;
  ExposedPort: number;
  Definition: Record<string, never>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A node (Consul's Node). */
export interface NodeJson {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}

/** One row of `/v1/catalog/service/:name` (Consul's CatalogService). */
export interface CatalogServiceJson {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  TaggedAddresses: Record<string, string>;
  NodeMeta: Record<string, string>;
  ServiceKind: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServiceWeights: WeightsJson;
  ServiceMeta: Record<string, string>;
  ServicePort: number;
  ServiceEnableTagOverride: boolean;
  ServiceProxy?: ProxyJson;
  Namespace: string;
  CreateIndex: number;
  ModifyIndex: number;
}

/** One row of `/v1/health/service/:name` (Consul's ServiceEntry). */
export interface ServiceEntryJson {
  Node: NodeJson;
  Service: AgentServiceJson;
  Checks: HealthCheckJson[];
}

/** Node metadata key that may carry the node's ID (Consul's node UUID); '' when absent. */
const NODE_ID_META = 'node-id';

function proxyJson(p: ProxyConfig): ProxyJson {
  return {
    DestinationServiceName: p.destinationServiceName,
    DestinationServiceID: p.destinationServiceId,
    LocalServiceAddress: p.localServiceAddress,
    LocalServicePort: p.localServicePort,
    Mode: '',
    Config: { ...p.config },
    Upstreams: p.upstreams.map((u) => ({
      DestinationType: 'service',
      DestinationNamespace: u.destinationNamespace,
      DestinationName: u.destinationName,
      Datacenter: u.datacenter,
      LocalBindAddress: u.localBindAddress,
      LocalBindPort: u.localBindPort,
      Config: { ...u.config },
      MeshGateway: {},
    })),
    MeshGateway: {},
    Expose: {},
  };
}

/** A service; `datacenter` is added on agent endpoints, `index` on catalog and health endpoints. */
export function agentServiceJson(s: ServiceRecord, extra: { datacenter?: string; index?: number } = {}): AgentServiceJson {
  const out: AgentServiceJson = {
    ID: s.id,
    Service: s.name,
    Tags: [...s.tags],
    Meta: { ...s.meta },
    Port: s.port,
    Address: s.address,
    Weights: { Passing: s.weights.passing, Warning: s.weights.warning },
    EnableTagOverride: s.enableTagOverride,
    Namespace: s.namespace,
  };
  // Consul omits an empty Kind and a missing Proxy.
  if (s.kind !== '') out.Kind = s.kind;
  if (s.proxy !== undefined) out.Proxy = proxyJson(s.proxy);
  if (extra.datacenter !== undefined) out.Datacenter = extra.datacenter;
  if (extra.index !== undefined) {
    out.CreateIndex = extra.index;
    out.ModifyIndex = extra.index;
  }
  return out;
}

/** A check on `node`. */
export function healthCheckJson(c: CheckRecord, node: string, index: number): HealthCheckJson {
  return {
    Node: node,
    CheckID: c.checkId,
    Name: c.name,
    Status: c.status,
    Notes: c.notes,
    Output: c.output,
    ServiceID: c.serviceId,
    ServiceName: c.serviceName,
    ServiceTags: [...c.serviceTags],
    Type: c.type,
    Interval: c.interval,
    Timeout: c.timeout,
    ExposedPort: 0,
    Definition: {},
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** Consul's node tagged addresses: lan and wan, plus the family-specific variants. */
function taggedAddresses(address: string): Record<string, string> {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return { lan: address, [`lan_${family}`]: address, wan: address, [`wan_${family}`]: address };
}

/** A node. */
export function nodeJson(n: NodeCatalog, index: number): NodeJson {
  return {
    ID: n.meta[NODE_ID_META] ?? '',
    Node: n.node,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: taggedAddresses(n.address),
    Meta: { ...n.meta },
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** A service instance flattened with its node, as the catalog lists it. */
export function catalogServiceJson(i: ServiceInstance, index: number): CatalogServiceJson {
  const { node: n, service: s } = i;
  const out: CatalogServiceJson = {
    ID: n.meta[NODE_ID_META] ?? '',
    Node: n.node,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: taggedAddresses(n.address),
    NodeMeta: { ...n.meta },
    ServiceKind: s.kind,
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: [...s.tags],
    ServiceAddress: s.address,
    ServiceWeights: { Passing: s.weights.passing, Warning: s.weights.warning },
    ServiceMeta: { ...s.meta },
    ServicePort: s.port,
    ServiceEnableTagOverride: s.enableTagOverride,
    Namespace: s.namespace,
    CreateIndex: index,
    ModifyIndex: index,
  };
  if (s.proxy !== undefined) out.ServiceProxy = proxyJson(s.proxy);
  return out;
}

/** A service instance with its node and checks, as the health endpoint lists it. */
export function serviceEntryJson(i: ServiceInstance, index: number): ServiceEntryJson {
  return {
    Node: nodeJson(i.node, index),
    Service: agentServiceJson(i.service, { index }),
    Checks: i.checks.map((c) => healthCheckJson(c, i.node.node, index)),
  };
}

/** Byte order of strings, for the stable orderings Consul's replies have. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
