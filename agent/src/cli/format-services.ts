/**
 * Text output of the service commands, laid out like Consul's: `shoal services` (this agent's
 * services with their health), `shoal catalog nodes` and `shoal catalog services`.
 */
import type { AgentServiceJson, HealthCheckJson, NodeJson } from '../http';
import { columnize } from './format';

const STATUS_RANK: Readonly<Record<string, number>> = { passing: 0, warning: 1, critical: 2 };

/**
 * The Health column of one service: the worst of its own checks and the node's (a node check such
 * as serfHealth applies to every service); `maintenance` while its maintenance check is on; passing
 * with no checks, as in Consul.
 */
export function serviceHealth(serviceId: string, checks: readonly HealthCheckJson[]): string {
  const relevant = checks.filter((c) => c.ServiceID === serviceId || c.ServiceID === '');
  if (relevant.some((c) => c.CheckID === `_service_maintenance:${serviceId}`)) return 'maintenance';
  let worst = 'passing';
  for (const c of relevant) if ((STATUS_RANK[c.Status] ?? 2) > (STATUS_RANK[worst] ?? 0)) worst = c.Status;
  return worst;
}

/** `shoal services`: ID, Service, Port, Tags, Health; sidecars included, sorted by ID. */
export function formatServices(services: Readonly<Record<string, AgentServiceJson>>, checks: Readonly<Record<string, HealthCheckJson>>): string {
  const all = Object.values(checks);
  const rows = Object.values(services)
    .sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0))
    .map((s) => [s.ID, s.Service, String(s.Port), s.Tags.join(','), serviceHealth(s.ID, all)]);
  return columnize([['ID', 'Service', 'Port', 'Tags', 'Health'], ...rows]);
}

/** `shoal catalog nodes`: Node, Address, DC; with `detailed`, Node, ID, Address, DC, Meta. */
export function formatCatalogNodes(nodes: readonly NodeJson[], opts: { detailed?: boolean } = {}): string {
  const sorted = [...nodes].sort((a, b) => (a.Node < b.Node ? -1 : a.Node > b.Node ? 1 : 0));
  if (opts.detailed === true) {
    const meta = (m: Record<string, string>): string => Object.keys(m).sort().map((k) => `${k}=${m[k]}`).join(', ');
    return columnize([['Node', 'ID', 'Address', 'DC', 'Meta'], ...sorted.map((n) => [n.Node, n.ID, n.Address, n.Datacenter, meta(n.Meta)])]);
  }
  return columnize([['Node', 'Address', 'DC'], ...sorted.map((n) => [n.Node, n.Address, n.Datacenter])]);
}

/** `shoal catalog services`: one name per line; with `tags`, the names and their tags in columns. */
export function formatCatalogServices(services: Readonly<Record<string, readonly string[]>>, opts: { tags?: boolean } = {}): string {
  const names = Object.keys(services).sort();
  if (opts.tags !== true) return names.join('\n');
  return columnize(names.map((n) => [n, [...(services[n] ?? [])].sort().join(',')]));
}
