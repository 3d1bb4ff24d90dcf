/**
 * Metrics of the service layer (local checks, replicated catalog, config entries, DNS), read at
 * scrape time from the components' own counters, so the hot paths only bump plain numbers.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CatalogStats } from '../catalog/replicated-options';
import type { CheckRecord } from '../catalog/types';
import type { ConfigEntryStats } from '../config-entries/config-entry-options';
import type { DnsStats } from '../dns';

/** Where the service-layer metrics read their numbers; each getter may return undefined before start. */
export interface ServiceLayerSources {
  localChecks(): readonly CheckRecord[];
  catalog(): { stats: CatalogStats; nodes: number; instances: number } | undefined;
  configEntries(): { stats: ConfigEntryStats; entries: number };
  dns(): DnsStats | undefined;
}

/** A counter whose value is copied from a monotonic source at each scrape. */
function mirroredCounter(
  registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][],
): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) if (value > 0) this.inc(labels, value);
    },
  });
}

/** A gauge set from a source at each scrape. */
function mirroredGauge(
  registry: Registry, name: string, help: string, labelNames: string[], read: () => [Record<string, string>, number][],
): void {
  new Gauge({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/** Registers the service-layer families on `registry`. */
export function registerServiceMetrics(registry: Registry, src: ServiceLayerSources): void {
  mirroredGauge(registry, 'shoal_local_checks', 'Checks on this agent by status.', ['status'], () => {
    const counts: Record<string, number> = { passing: 0, warning: 0, critical: 0 };
    for (const c of src.localChecks()) counts[c.status] = (counts[c.status] ?? 0) + 1;
    return Object.entries(counts).map(([status, n]) => [{ status }, n]);
  });
  mirroredGauge(registry, 'shoal_catalog_nodes', 'Live nodes in the replicated catalog.', [], () => {
    const c = src.catalog();
    return c ? [[{}, c.nodes]] : [];
  });
  mirroredGauge(registry, 'shoal_catalog_service_instances', 'Service instances on live nodes in the replicated catalog.', [], () => {
    const c = src.catalog();
    return c ? [[{}, c.instances]] : [];
  });
  mirroredCounter(registry, 'shoal_catalog_dropped_total', 'Catalog input from peers refused, by reason.', ['reason'], () =>
    Object.entries(src.catalog()?.stats.dropped ?? {}).map(([reason, n]) => [{ reason }, n]));
  mirroredCounter(registry, 'shoal_catalog_states_applied_total', 'Newer node states applied from peers.', [], () => {
    const c = src.catalog();
    return c ? [[{}, c.stats.applied]] : [];
  });
  mirroredCounter(registry, 'shoal_catalog_fetches_total', 'Large node states fetched over TCP, by outcome.', ['outcome'], () => {
    const s = src.catalog()?.stats;
    return s ? [[{ outcome: 'ok' }, s.fetchesStarted - s.fetchesFailed], [{ outcome: 'failed' }, s.fetchesFailed]] : [];
  });
  mirroredGauge(registry, 'shoal_config_entries', 'Config entries held (tombstones excluded).', [], () => [[{}, src.configEntries().entries]]);
  mirroredGauge(registry, 'shoal_config_entry_tombstones', 'Deleted config entries remembered so they cannot come back.', [], () =>
    [[{}, src.configEntries().stats.tombstones]]);
  mirroredCounter(registry, 'shoal_config_entries_dropped_total', 'Config entry input from peers refused, by reason.', ['reason'], () =>
    Object.entries(src.configEntries().stats.dropped).map(([reason, n]) => [{ reason }, n]));
  mirroredCounter(registry, 'shoal_dns_queries_total', 'DNS queries answered, by transport.', ['transport'], () => {
    const d = src.dns();
    return d ? [[{ transport: 'udp' }, d.udpQueries], [{ transport: 'tcp' }, d.tcpQueries]] : [];
  });
  mirroredCounter(registry, 'shoal_dns_responses_total', 'DNS answers that were not NOERROR, or were truncated.', ['kind'], () => {
    const d = src.dns();
    return d ? [[{ kind: 'nxdomain' }, d.nxdomain], [{ kind: 'refused' }, d.refused], [{ kind: 'truncated' }, d.truncated]] : [];
  });
  mirroredCounter(registry, 'shoal_dns_dropped_total', 'DNS input dropped without an answer, by reason.', ['reason'], () => {
    const d = src.dns();
    return d ? [
      [{ reason: 'malformed' }, d.droppedMalformed], [{ reason: 'oversize' }, d.droppedOversize], [{ reason: 'response' }, d.droppedResponse],
      [{ reason: 'tcp_rejected' }, d.tcpRejected], [{ reason: 'tcp_idle' }, d.tcpIdleClosed],
    ] : [];
  });
}
