import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { registerServiceMetrics } from '../../src/metrics/service-metrics';
import type { CheckRecord } from '../../src/catalog/types';

const check = (status: CheckRecord['status']): CheckRecord => ({
  checkId: `c-${status}`, name: status, status, notes: '', output: '', serviceId: 'web', serviceName: 'web', serviceTags: [],
  type: 'ttl', interval: '', timeout: '',
});

test('service-layer metrics mirror the components\' counters at scrape time and pass promtool', async () => {
  const registry = new Registry();
  let udp = 3;
  registerServiceMetrics(registry, {
    localChecks: () => [check('passing'), check('critical'), check('critical')],
    catalog: () => ({
      stats: { dropped: { decode: 2 } as never, applied: 7, broadcastsFull: 1, broadcastsDigest: 0, fetchesStarted: 4, fetchesFailed: 1 },
      nodes: 20, instances: 31,
    }),
    configEntries: () => ({ stats: { dropped: { skew: 1 } as never, applied: 2, tombstones: 5, pushed: 0 }, entries: 9 }),
    dns: () => ({
      udpQueries: udp, tcpQueries: 1, nxdomain: 2, refused: 0, truncated: 1, droppedMalformed: 6, droppedOversize: 0,
      droppedResponse: 0, tcpRejected: 0, tcpIdleClosed: 0,
    }),
  });
  let text = await registry.metrics();
  assert.match(text, /shoal_local_checks\{status="critical"\} 2/);
  assert.match(text, /shoal_catalog_nodes 20/);
  assert.match(text, /shoal_catalog_service_instances 31/);
  assert.match(text, /shoal_catalog_dropped_total\{reason="decode"\} 2/);
  assert.match(text, /shoal_catalog_fetches_total\{outcome="failed"\} 1/);
  assert.match(text, /shoal_config_entries 9/);
  assert.match(text, /shoal_config_entries_dropped_total\{reason="skew"\} 1/);
  assert.match(text, /shoal_dns_dropped_total\{reason="malformed"\} 6/);
  assert.match(text, /shoal_dns_queries_total\{transport="udp"\} 3/);
  udp = 10;
  text = await registry.metrics();
  assert.match(text, /shoal_dns_queries_total\{transport="udp"\} 10/, 'a later scrape reads the new value');
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error === undefined) assert.equal(promtool.status, 0, `${promtool.stdout}${promtool.stderr}`);
});
