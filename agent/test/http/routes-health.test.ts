import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import type { ServiceEntryJson, HealthCheckJson } from '../../src/http';
import { waitFor } from '../agent/poll';
import { chk, FakeCatalog, sampleNodes } from './fake-catalog';
import { startApi, type Harness } from './harness';

const catalog = new FakeCatalog(sampleNodes());
let h: Harness;

before(async () => {
  h = await startApi({ catalog, clock: new VirtualClock() });
});
after(() => h.server.close());

const ids = (entries: unknown): string[] => (entries as ServiceEntryJson[]).map((e) => e.Service.ID);

test('GET /v1/health/service/:name returns Node, Service and Checks per instance', async () => {
  const r = await h.call('GET', '/v1/health/service/web');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-consul-index'), String(catalog.index()));
  assert.equal(r.headers.get('x-consul-knownleader'), 'true');
  const entries = r.json as ServiceEntryJson[];
  assert.deepEqual(ids(entries), ['web-1', 'web-2', 'web-3']);
  const first = entries[0]!;
  assert.equal(first.Node.Node, 'n1');
  assert.equal(first.Node.Address, '10.0.0.1');
  assert.deepEqual(
    { ID: first.Service.ID, Service: first.Service.Service, Tags: first.Service.Tags, Port: first.Service.Port, Weights: first.Service.Weights },
    { ID: 'web-1', Service: 'web', Tags: ['v1', 'primary'], Port: 8080, Weights: { Passing: 1, Warning: 1 } },
  );
  // Node checks and the instance's own checks, nothing of redis.
  assert.deepEqual(first.Checks.map((c) => [c.CheckID, c.Node, c.Status]), [['serfHealth', 'n1', 'passing'], ['service:web-1', 'n1', 'passing']]);
  assert.equal(entries[2]!.Service.Address, '10.0.0.33');
});

test('?passing keeps only instances whose checks all pass (a warning fails it)', async () => {
  assert.deepEqual(ids((await h.call('GET', '/v1/health/service/web?passing')).json), ['web-1', 'web-3']);
  assert.deepEqual(ids((await h.call('GET', '/v1/health/service/web?passing=true&tag=v1&tag=primary')).json), ['web-1']);
  assert.deepEqual(ids((await h.call('GET', '/v1/health/service/redis')).json), ['redis']);
  assert.deepEqual(ids((await h.call('GET', '/v1/health/service/redis?passing=1')).json), []);
  assert.deepEqual(ids((await h.call('GET', '/v1/health/service/redis?passing=false')).json), ['redis']);
  assert.ok(catalog.calls.includes('instances web {"tag":"v1","passingOnly":true}'), 'filters are passed down to the reader too');
});

test('GET /v1/health/connect/:name lists sidecars with their checks', async () => {
  const entries = (await h.call('GET', '/v1/health/connect/web')).json as ServiceEntryJson[];
  assert.deepEqual(ids(entries), ['web-1-sidecar-proxy']);
  assert.equal(entries[0]!.Service.Kind, 'connect-proxy');
  assert.equal(entries[0]!.Service.Proxy?.DestinationServiceID, 'web-1');
});

test('GET /v1/health/checks/:service lists the service\'s checks with their nodes', async () => {
  const checks = (await h.call('GET', '/v1/health/checks/web')).json as HealthCheckJson[];
  assert.deepEqual(checks.map((c) => [c.Node, c.CheckID, c.Status]), [['n1', 'service:web-1', 'passing'], ['n2', 'service:web-2', 'critical'], ['n3', 'service:web-3', 'passing']]);
  assert.deepEqual(checks[0], {
    Node: 'n1', CheckID: 'service:web-1', Name: "Service 'web' check", Status: 'passing', Notes: '', Output: '',
    ServiceID: 'web-1', ServiceName: 'web', ServiceTags: ['v1', 'primary'], Type: 'http', Interval: '10s', Timeout: '1s',
    ExposedPort: 0, Definition: {}, CreateIndex: catalog.index(), ModifyIndex: catalog.index(),
  });
});

test('GET /v1/health/state/:state filters by status; an unknown state is a 400', async () => {
  const critical = (await h.call('GET', '/v1/health/state/critical')).json as HealthCheckJson[];
  assert.deepEqual(critical.map((c) => c.CheckID), ['service:web-2']);
  const warning = (await h.call('GET', '/v1/health/state/warning')).json as HealthCheckJson[];
  assert.deepEqual(warning.map((c) => c.CheckID), ['service:redis']);
  const any = (await h.call('GET', '/v1/health/state/any')).json as HealthCheckJson[];
  assert.equal(any.length, 7);
  const bad = await h.call('GET', '/v1/health/state/sick');
  assert.equal(bad.status, 400);
  assert.match((bad.json as { error: string }).error, /state: expected any, passing, warning or critical/);
});

test('GET /v1/health/node/:node lists every check of the node; an unknown node is [] with an index', async () => {
  const checks = (await h.call('GET', '/v1/health/node/n1')).json as HealthCheckJson[];
  assert.deepEqual(checks.map((c) => c.CheckID), ['serfHealth', 'service:redis', 'service:web-1']);
  const none = await h.call('GET', '/v1/health/node/ghost');
  assert.deepEqual(none.json, []);
  assert.equal(none.headers.get('x-consul-index'), String(catalog.index()));
});

test('a health watch sees an instance turn critical', async () => {
  const start = catalog.index();
  const pending = h.call('GET', `/v1/health/service/web?passing&index=${start}&wait=1m`);
  await waitFor('the request to block', () => catalog.subscribers === 1);
  const nodes = sampleNodes();
  nodes[0] = { ...nodes[0]!, checks: nodes[0]!.checks.map((c) => (c.checkId === 'service:web-1' ? chk({ ...c, status: 'critical' }) : c)) };
  catalog.set(nodes);
  const r = await pending;
  assert.equal(r.headers.get('x-consul-index'), String(start + 1));
  assert.deepEqual(ids(r.json), ['web-3']);
  catalog.set(sampleNodes());
});
