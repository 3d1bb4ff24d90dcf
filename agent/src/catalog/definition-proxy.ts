/**
 * The proxy half of a service definition: a sidecar's or a connect-proxy service's `proxy` block
 * and its `upstreams`. Defaults follow Consul: upstreams bind 127.0.0.1, the local service is reached
 * at 127.0.0.1 on the parent's port, namespace `default`.
 */
import { isIP } from 'node:net';
import { CATALOG_LIMITS } from './catalog-codec';
import type { ProxyConfig, Upstream } from './types';
import { describe, Fields, joinPath, type Problems } from './definition-fields';
import { checkSidecarProxyConfig, checkUpstreamConfig } from './definition-proxy-config';

/** Service and namespace names: one DNS label (letters, digits, dashes; at most 63). */
export const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** What to expect of a DNS label, for messages. */
export const DNS_LABEL_EXPECTED = 'expected 1-63 letters, digits or dashes, not starting or ending with a dash';

/** Namespace of services and upstreams that name none. */
export const DEFAULT_NAMESPACE = 'default';

/** Most upstreams per proxy: each is a listener on this node (the gossip codec's bound). */
const MAX_UPSTREAMS = CATALOG_LIMITS.maxUpstreams;

const UPSTREAM_FIELDS = ['destination_name', 'destination_namespace', 'datacenter', 'local_bind_address', 'local_bind_port', 'config'];

/** Fields of a sidecar's `proxy` block: the destination is implied by the parent service. */
export const SIDECAR_PROXY_FIELDS = ['local_service_address', 'local_service_port', 'upstreams', 'config'];

/** Fields of a connect-proxy service's `proxy` block. */
export const PROXY_FIELDS = ['destination_service_name', 'destination_service_id', ...SIDECAR_PROXY_FIELDS];

/** A proxy block read: the config and the path of each upstream (for problems found across a set). */
export interface ProxyRead {
  proxy: ProxyConfig;
  upstreamFields: string[];
}

/**
 * Reads a `proxy` block. For a sidecar, `destination` gives the parent's name, ID and port; for a
 * connect-proxy service the block must name its destination.
 */
export function readProxy(
  p: Problems,
  f: Fields | undefined,
  at: string,
  destination: { name: string; id: string; port: number; portRefused: boolean } | undefined,
): ProxyRead {
  const name = destination?.name ?? f?.string('destination_service_name') ?? '';
  if (destination === undefined && f?.has('destination_service_name') !== true) {
    p.add(joinPath(at, 'destination_service_name'), 'is required for a connect-proxy service');
  } else if (destination === undefined && !DNS_LABEL.test(name)) {
    p.add(f!.path('destination_service_name', ''), `${DNS_LABEL_EXPECTED}, got ${describe(name)}`);
  }
  const localServiceAddress = f?.string('local_service_address', '127.0.0.1') ?? '127.0.0.1';
  if (!isHostOrIp(localServiceAddress)) p.add(f!.path('local_service_address', ''), `expected an IP address or host name, got ${describe(localServiceAddress)}`);
  const localServicePort = f?.int('local_service_port', 1, 65535, destination?.port ?? 0) ?? destination?.port ?? 0;
  if (destination !== undefined && !destination.portRefused && localServicePort === 0 && f?.has('local_service_port') !== true) {
    p.add(joinPath(at, 'local_service_port'), 'is required when the service has no port: the sidecar forwards to it');
  }
  const upstreams: Upstream[] = [];
  const upstreamFields: string[] = [];
  const list = f?.objects('upstreams') ?? [];
  if (list.length > MAX_UPSTREAMS) p.add(f!.path('upstreams', ''), `expected at most ${MAX_UPSTREAMS} upstreams, got ${list.length}`);
  for (const item of list.slice(0, MAX_UPSTREAMS)) {
    const u = readUpstream(p, Fields.of(p, item, UPSTREAM_FIELDS), item.path);
    if (u !== undefined) {
      upstreams.push(u);
      upstreamFields.push(item.path);
    }
  }
  const config = f?.freeform('config', CATALOG_LIMITS.maxConfigDepth) ?? {};
  if (f !== undefined) checkSidecarProxyConfig(p, f.path('config', ''), config);
  return {
    proxy: {
      destinationServiceName: name,
      destinationServiceId: destination?.id ?? f?.string('destination_service_id') ?? '',
      localServiceAddress,
      localServicePort,
      upstreams,
      config,
    },
    upstreamFields,
  };
}

function readUpstream(p: Problems, f: Fields | undefined, at: string): Upstream | undefined {
  if (f === undefined) return undefined;
  const destinationName = f.string('destination_name');
  if (!f.has('destination_name')) p.add(joinPath(at, 'destination_name'), 'is required');
  else if (!DNS_LABEL.test(destinationName)) p.add(f.path('destination_name', ''), `${DNS_LABEL_EXPECTED}, got ${describe(destinationName)}`);
  const destinationNamespace = f.string('destination_namespace', DEFAULT_NAMESPACE);
  if (!DNS_LABEL.test(destinationNamespace)) p.add(f.path('destination_namespace', ''), `${DNS_LABEL_EXPECTED}, got ${describe(destinationNamespace)}`);
  const datacenter = f.string('datacenter');
  if (datacenter !== '' && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(datacenter)) {
    p.add(f.path('datacenter', ''), `expected a cluster name (1-64 letters, digits, "-" or "_"), got ${describe(datacenter)}`);
  }
  const localBindAddress = f.string('local_bind_address', '127.0.0.1');
  if (isIP(localBindAddress) === 0) p.add(f.path('local_bind_address', ''), `expected an IP address, got ${describe(localBindAddress)}`);
  if (!f.has('local_bind_port')) p.add(joinPath(at, 'local_bind_port'), 'is required: the local port the application connects to');
  const localBindPort = f.int('local_bind_port', 1, 65535, 0);
  const config = f.freeform('config', CATALOG_LIMITS.maxConfigDepth);
  checkUpstreamConfig(p, f.path('config', ''), config);
  return { destinationName, destinationNamespace, datacenter, localBindAddress, localBindPort, config };
}

/** An IP address or a DNS host name. */
export function isHostOrIp(s: string): boolean {
  return isIP(s) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/.test(s);
}
