/**
 * The gossip tags an agent announces: role, cluster, locality, ports, version. Other agents read them
 * (`shoal members`, the failover tiers, gateways), so names are stable.
 */
import type { AgentConfig, PortsConfig } from '../config';
import type { Tags } from '../gossip/messages';
import { BUILD, VERSION } from './version';

/** The roles tag: `client`, plus `server` on server agents (comma-separated). */
export function roleTag(server: boolean): string {
  return server ? 'client,server' : 'client';
}

/** True when a member's tags say it is a server. */
export function isServerTags(tags: Tags): boolean {
  return (tags['role'] ?? '').split(',').includes('server');
}

/** Tags for a pool, with the ports actually bound (they differ from the config when it says 0). */
export function agentTags(config: AgentConfig, ports: PortsConfig): Tags {
  const tags: Record<string, string> = {
    role: roleTag(config.server),
    dc: config.datacenter,
    port_http: String(ports.http),
    port_grpc: String(ports.grpc),
    port_serf_lan: String(ports.serfLan),
    port_serf_wan: String(ports.serfWan),
    version: VERSION,
    build: BUILD,
  };
  if (config.region !== undefined) tags['region'] = config.region;
  if (config.zone !== undefined) tags['zone'] = config.zone;
  return Object.freeze(tags);
}
