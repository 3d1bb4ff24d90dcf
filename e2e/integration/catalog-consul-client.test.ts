/**
 * The real `consul` npm client (v2), unchanged, against a real three-agent Shoal cluster: service
 * registration and deregistration with a TTL check, catalog and health reads, and a blocking-query
 * watch that sees a registration made on another agent and a check status change, then ends cleanly.
 *
 * Addresses: agents k1-k3 on 127.0.4.41-43 (k1 is the seed). This file owns 127.0.4.40-49.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { systemClock } from '../../agent/src/core/clock';
import { Cluster, HTTP_PORT, since, waitFor, waitForViews, type TestAgent } from './harness';

const cluster = new Cluster('catalog-consul-client');
const agents: TestAgent[] = Array.from({ length: 3 }, (_, i) =>
  cluster.add({ name: `k${i + 1}`, ip: `127.0.4.${41 + i}`, args: i === 0 ? [] : ['-retry-join', '127.0.4.41'] }));
const [k1, k2, k3] = agents as [TestAgent, TestAgent, TestAgent];
/** One client per agent, as an application on each host would have. */
const clients = agents.map((a) => new Consul({ host: a.ip, port: HTTP_PORT }));
const [client1, client2, client3] = clients as [Consul, Consul, Consul];
let watch: ReturnType<Consul['watch']> | undefined;

after(async () => {
  watch?.end();
  for (const c of clients) c.destroy();
  await cluster.cleanup();
});

/** Replication deadline for these reads: the 2 s plus the client's own round trips. */
const SEEN_MS = 5_000;

interface CatalogNode { Node: string; Address: string; ServiceID: string; ServiceName: string; ServicePort: number; ServiceTags: string[]; ServiceMeta: Record<string, string> }
interface ServiceEntry { Node: { Node: string }; Service: { ID: string }; Checks: { CheckID: string; Status: string }[] }

const ids = (entries: readonly ServiceEntry[]): string[] => entries.map((e) => e.Service.ID).sort();

test('three agents started through one seed see each other alive', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  await k1.start();
  await Promise.all([k2.start(), k3.start()]);
  const took = await waitForViews('all 3 alive on all 3', agents, Object.fromEntries(agents.map((a) => [a.name, 'alive'])), 45_000);
  t.diagnostic(`converged ${took} ms after the last agent was up`);
}));

test('consul.agent.service.register with a TTL check; catalog.service.nodes and health.service read it from the other agents', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  await client1.agent.service.register({
    name: 'billing', id: 'billing-1', port: 9301, tags: ['v1', 'eu'], meta: { team: 'money' },
    // `timeout` only because the client's typings require it; the client sends it for interval checks only.
    check: { name: 'billing heartbeat', checkid: 'billing-1-ttl', ttl: '10m', timeout: '1s' },
  });
  const local = await client1.agent.service.list();
  assert.deepEqual(Object.keys(local), ['billing-1'], 'consul.agent.service.list on k1');
  const checks = await client1.agent.check.list();
  assert.equal(checks['billing-1-ttl']?.Status, 'critical', 'a TTL check starts critical');

  const t0 = systemClock.now();
  const nodes = await waitFor('consul.catalog.service.nodes on k2 and k3 to list billing-1', async () => {
    const seen = await Promise.all([client2, client3].map((c) => c.catalog.service.nodes('billing') as Promise<CatalogNode[]>));
    return seen.every((rows) => rows.length === 1) ? seen : undefined;
  }, { timeoutMs: SEEN_MS, everyMs: 50 });
  t.diagnostic(`billing-1 listed by k2 and k3 ${since(t0)} ms after registration returned`);
  for (const rows of nodes) {
    const r = rows[0]!;
    assert.deepEqual([r.Node, r.Address, r.ServiceID, r.ServiceName, r.ServicePort, [...r.ServiceTags].sort(), r.ServiceMeta],
      ['k1', '127.0.4.41', 'billing-1', 'billing', 9301, ['eu', 'v1'], { team: 'money' }]);
  }
  const services = await client3.catalog.service.list();
  assert.deepEqual([...(services['billing'] ?? [])].sort(), ['eu', 'v1'], 'consul.catalog.service.list on k3');

  // Not passing until the application reports in.
  assert.deepEqual(await client3.health.service({ service: 'billing', passing: true }), [], 'health.service passing=true on k3 before the first pass');
  const all = await client3.health.service('billing') as ServiceEntry[];
  assert.deepEqual(all.map((e) => [e.Service.ID, e.Checks.find((c) => c.CheckID === 'billing-1-ttl')?.Status]), [['billing-1', 'critical']]);
  await client1.agent.check.pass('billing-1-ttl');
  await waitFor('health.service passing=true on k3 to list billing-1', async () =>
    ids(await client3.health.service({ service: 'billing', passing: true }) as ServiceEntry[]).join() === 'billing-1', { timeoutMs: SEEN_MS, everyMs: 50 });
}));

test('consul.watch on health.service (passing) sees a registration on another agent and a check status change, and ends cleanly', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  const changes: { atMs: number; ids: string[] }[] = [];
  const errors: unknown[] = [];
  let ends = 0;
  const t0 = systemClock.now();
  watch = client2.watch({
    method: client2.health.service,
    // The typings say Record<string, string>; the client takes a boolean here (it sends passing=true).
    options: { service: 'billing', passing: true, wait: '5s' } as unknown as Record<string, string>,
  });
  watch.on('change', (data: ServiceEntry[]) => changes.push({ atMs: since(t0), ids: ids(data) }));
  watch.on('error', (err: unknown) => errors.push(err));
  watch.on('end', () => ends++);
  const saw = (want: string[], what: string): Promise<unknown> => waitFor(what, () => changes.some((c) => c.ids.join() === want.join()),
    { timeoutMs: SEEN_MS, everyMs: 20, describe: () => JSON.stringify({ changes, errors: errors.map(String) }) });

  await saw(['billing-1'], 'the watch to report billing-1 passing');
  // A registration on another agent (k3), with a check that starts passing.
  let mark = systemClock.now();
  await client3.agent.service.register({
    name: 'billing', id: 'billing-2', port: 9302, check: { name: 'billing heartbeat', checkid: 'billing-2-ttl', ttl: '10m', timeout: '1s', status: 'passing' },
  });
  await saw(['billing-1', 'billing-2'], 'the watch on k2 to see billing-2 registered on k3');
  const registered = since(mark);
  // A check status change on k1.
  mark = systemClock.now();
  await client1.agent.check.fail({ id: 'billing-1-ttl', note: 'card processor down' });
  await saw(['billing-2'], 'the watch to drop billing-1 when its check fails');
  const failed = since(mark);
  assert.deepEqual(errors.map(String), [], 'the watch never errored (every reply carried a usable X-Consul-Index)');

  watch.end();
  assert.equal(watch.isRunning(), false);
  const before = changes.length;
  // A change after the end must not reach the ended watch.
  await client1.agent.check.pass('billing-1-ttl');
  await waitFor('k2 to list billing-1 passing again', async () =>
    ids(await client2.health.service({ service: 'billing', passing: true }) as ServiceEntry[]).join() === 'billing-1,billing-2', { timeoutMs: SEEN_MS, everyMs: 50 });
  await systemClock.sleep(500);
  assert.equal(changes.length, before, 'no change delivered after end()');
  assert.equal(ends, 1, 'one end event');
  assert.deepEqual(errors.map(String), [], 'ending the watch raised no error');
  t.diagnostic(`watch changes: ${JSON.stringify(changes)}; registration on k3 seen by the watch on k2 after ${registered} ms, check failure on k1 after ${failed} ms`);
}));

test('consul.agent.service.deregister removes the services from every agent\'s catalog', { timeout: 60_000 }, () => cluster.diagnose(async () => {
  await client3.agent.service.deregister('billing-2');
  await client1.agent.service.deregister({ id: 'billing-1' });
  assert.deepEqual(await client1.agent.service.list(), {}, 'k1 has no services left');
  await waitFor('billing to be gone from every catalog', async () => {
    const seen = await Promise.all(clients.map((c) => c.catalog.service.nodes('billing') as Promise<unknown[]>));
    return seen.every((rows) => rows.length === 0);
  }, { timeoutMs: SEEN_MS, everyMs: 50 });
  for (const c of clients) {
    assert.equal((await c.catalog.service.list())['billing'], undefined, 'billing no longer in catalog.service.list');
    assert.deepEqual(await c.health.service('billing'), []);
  }
  // Deregistering an unknown ID is an error the client surfaces (404), as with Consul.
  await assert.rejects(client2.agent.service.deregister('billing-9'), (err: Error & { statusCode?: number }) => err.statusCode === 404);
}));
