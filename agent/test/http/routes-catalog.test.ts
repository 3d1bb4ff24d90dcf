import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { waitFor } from '../agent/poll';
import { FakeAgent, member } from './fake-agent';
import { FakeCatalog, nodeCat, sampleNodes, svc } from './fake-catalog';
import { startApi, type Harness } from './harness';

const catalog = new FakeCatalog(sampleNodes());
const clock = new VirtualClock();
const agent = new FakeAgent();
let h: Harness;

before(async () => {
  h = await startApi({ catalog, clock, random: { float: () => 0, int: () => 0 } }, agent);
});
after(() => h.server.close());

function assertQueryMeta(r: { headers: Headers }, index: number): void {
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('x-consul-index'), String(index));
  assert.equal(r.headers.get('x-consul-knownleader'), 'true');
  assert.equal(r.headers.get('x-consul-lastcontact'), '0');
}

test('GET /v1/catalog/services maps every service to its tags, with the query-meta headers', async () => {
  const r = await h.call('GET', '/v1/catalog/services');
  assert.equal(r.status, 200);
  assertQueryMeta(r, catalog.index());
  assert.deepEqual(r.json, { redis: [], web: ['primary', 'v1', 'v2'], 'web-sidecar-proxy': [] });
});

test('GET /v1/catalog/service/:name lists instances in Consul\'s CatalogService shape', async () => {
  const r = await h.call('GET', '/v1/catalog/service/web');
  assertQueryMeta(r, catalog.index());
  const rows = r.json as Record<string, unknown>[];
  assert.deepEqual(rows.map((x) => [x['Node'], x['ServiceID'], x['Address'], x['ServiceAddress']]), [
    ['n1', 'web-1', '10.0.0.1', ''], ['n2', 'web-2', '10.0.0.2', ''], ['n3', 'web-3', 'fd00::3', '10.0.0.33'],
  ]);
  assert.deepEqual(rows[0], {
    ID: '', Node: 'n1', Address: '10.0.0.1', Datacenter: 'dc1',
    TaggedAddresses: { lan: '10.0.0.1', lan_ipv4: '10.0.0.1', wan: '10.0.0.1', wan_ipv4: '10.0.0.1' },
    NodeMeta: { zone: 'a' }, ServiceKind: '', ServiceID: 'web-1', ServiceName: 'web', ServiceTags: ['v1', 'primary'],
    ServiceAddress: '', ServiceWeights: { Passing: 1, Warning: 1 }, ServiceMeta: { version: '1' }, ServicePort: 8080,
    ServiceEnableTagOverride: false, Namespace: 'default', CreateIndex: catalog.index(), ModifyIndex: catalog.index(),
  });
  assert.deepEqual((rows[2]!['TaggedAddresses'] as Record<string, string>)['lan_ipv6'], 'fd00::3');
});

test('?tag filters, and repeated tags must all match', async () => {
  const one = (await h.call('GET', '/v1/catalog/service/web?tag=v1')).json as { ServiceID: string }[];
  assert.deepEqual(one.map((x) => x.ServiceID), ['web-1', 'web-3']);
  const both = (await h.call('GET', '/v1/catalog/service/web?tag=v1&tag=primary')).json as { ServiceID: string }[];
  assert.deepEqual(both.map((x) => x.ServiceID), ['web-1']);
});

test('an unknown service is 200 [] and an unknown node 200 null, both with X-Consul-Index', async () => {
  const s = await h.call('GET', '/v1/catalog/service/nope');
  assert.equal(s.status, 200);
  assert.deepEqual(s.json, []);
  assertQueryMeta(s, catalog.index());
  const n = await h.call('GET', '/v1/catalog/node/nope');
  assert.equal(n.status, 200);
  assert.equal(n.text, 'null');
  assertQueryMeta(n, catalog.index());
});

test('GET /v1/catalog/nodes and /v1/catalog/node/:node', async () => {
  const nodes = (await h.call('GET', '/v1/catalog/nodes')).json as { Node: string; Address: string; Datacenter: string }[];
  assert.deepEqual(nodes.map((n) => [n.Node, n.Address, n.Datacenter]), [['n1', '10.0.0.1', 'dc1'], ['n2', '10.0.0.2', 'dc1'], ['n3', 'fd00::3', 'dc1']]);
  const one = (await h.call('GET', '/v1/catalog/node/n1')).json as { Node: { Node: string; Meta: unknown }; Services: Record<string, { Service: string; Port: number; Kind?: string }> };
  assert.equal(one.Node.Node, 'n1');
  assert.deepEqual(one.Node.Meta, { zone: 'a' });
  assert.deepEqual(Object.keys(one.Services), ['redis', 'web-1', 'web-1-sidecar-proxy']);
  assert.equal(one.Services['web-1']!.Port, 8080);
  assert.equal(one.Services['web-1-sidecar-proxy']!.Kind, 'connect-proxy');
  assert.equal(one.Services['web-1']!.Kind, undefined, 'Consul omits an empty Kind');
});

test('GET /v1/catalog/connect/:name lists the sidecars of a service', async () => {
  const rows = (await h.call('GET', '/v1/catalog/connect/web')).json as Record<string, unknown>[];
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!['ServiceKind'], 'connect-proxy');
  assert.equal(rows[0]!['ServicePort'], 21000);
  const proxy = rows[0]!['ServiceProxy'] as { DestinationServiceName: string; Upstreams: { DestinationName: string; LocalBindPort: number }[] };
  assert.equal(proxy.DestinationServiceName, 'web');
  assert.deepEqual(proxy.Upstreams.map((u) => [u.DestinationName, u.LocalBindPort]), [['redis', 9191]]);
});

test('GET /v1/catalog/datacenters puts this one first, then others from the catalog and WAN', async () => {
  assert.deepEqual((await h.call('GET', '/v1/catalog/datacenters')).json, ['dc1']);
  agent.wan = [member('s1.dc3', 'alive', '10.3.0.1:7302', { dc: 'dc3' })];
  catalog.set([...sampleNodes(), nodeCat({ node: 'far', datacenter: 'dc2' })]);
  assert.deepEqual((await h.call('GET', '/v1/catalog/datacenters')).json, ['dc1', 'dc2', 'dc3']);
  agent.wan = undefined;
  catalog.set(sampleNodes());
});

test('a blocking query is held until the catalog changes, then answers the new data and index', async () => {
  const start = catalog.index();
  const pending = h.call('GET', `/v1/catalog/service/api?index=${start}&wait=5m`);
  await waitFor('the request to block', () => catalog.subscribers === 1);
  catalog.set([...sampleNodes(), nodeCat({ node: 'n4', services: [svc({ name: 'api', port: 9000 })] })]);
  const r = await pending;
  assert.equal(r.status, 200);
  assertQueryMeta(r, start + 1);
  assert.deepEqual((r.json as { ServiceName: string }[]).map((x) => x.ServiceName), ['api']);
  assert.equal(catalog.subscribers, 0, 'the finished query unsubscribed');
  catalog.set(sampleNodes());
});

test('a blocking query with no change answers the same index when its wait runs out', async () => {
  const start = catalog.index();
  const pending = h.call('GET', `/v1/catalog/services?index=${start}&wait=2s`);
  await waitFor('the request to block', () => catalog.subscribers === 1);
  clock.advance(1999);
  assert.equal(catalog.subscribers, 1, 'still held before the wait ends');
  clock.advance(1);
  const r = await pending;
  assertQueryMeta(r, start);
});

test('a stale or reset index answers at once; a bad wait is a 400', async () => {
  const older = await h.call('GET', `/v1/catalog/nodes?index=${catalog.index() - 1}`);
  assertQueryMeta(older, catalog.index());
  const newer = await h.call('GET', `/v1/catalog/nodes?index=${catalog.index() + 100}&wait=10s`);
  assertQueryMeta(newer, catalog.index());
  const bad = await h.call('GET', '/v1/catalog/nodes?index=1&wait=forever');
  assert.equal(bad.status, 400);
});

test('?filter is refused rather than ignored', async () => {
  const r = await h.call('GET', '/v1/catalog/service/web?filter=ServiceMeta.version%3D%3D1');
  assert.equal(r.status, 400);
  assert.match((r.json as { error: string }).error, /filter expressions are not supported/);
});

test('a client that goes away stops its blocking query', async () => {
  const ac = new AbortController();
  const pending = fetch(`${h.base}/v1/catalog/services?index=${catalog.index()}&wait=5m`, { signal: ac.signal }).catch(() => 'aborted');
  await waitFor('the request to block', () => catalog.subscribers === 1);
  ac.abort();
  assert.equal(await pending, 'aborted');
  await waitFor('the server to drop the subscription', () => catalog.subscribers === 0);
});
