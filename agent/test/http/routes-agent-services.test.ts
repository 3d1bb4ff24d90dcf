import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import type { AgentServiceJson, HealthCheckJson } from '../../src/http';
import { truncateUtf8 } from '../../src/http/routes-agent-services';
import { waitFor } from '../agent/poll';
import { FakeLocal } from './fake-catalog';
import { startApi, type Harness } from './harness';

const local = new FakeLocal();
let h: Harness;

before(async () => {
  h = await startApi({ local, clock: new VirtualClock() });
});
after(() => h.server.close());

const register = (body: unknown, query = ''): ReturnType<Harness['call']> =>
  h.call('PUT', `/v1/agent/service/register${query}`, typeof body === 'string' ? body : JSON.stringify(body));

test('PUT /v1/agent/service/register registers; GET /v1/agent/services shows it in Consul\'s shape', async () => {
  const r = await register({ Name: 'web', ID: 'web-1', Port: 8080, Tags: ['v1'], Meta: { team: 'a' }, Check: { TTL: '10s' } }, '?replace-existing-checks=true');
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  const list = await h.call('GET', '/v1/agent/services');
  assert.equal(list.headers.get('content-type'), 'application/json');
  assert.equal(list.headers.get('x-consul-index'), String(local.index()));
  assert.deepEqual(list.json, {
    'web-1': {
      ID: 'web-1', Service: 'web', Tags: ['v1'], Meta: { team: 'a' }, Port: 8080, Address: '', Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false, Namespace: 'default', Datacenter: 'dc1',
    },
  });
});

test('GET /v1/agent/service/:id returns one service; an unknown ID is a 404 with an index', async () => {
  const one = await h.call('GET', '/v1/agent/service/web-1');
  assert.equal((one.json as AgentServiceJson).Service, 'web');
  const missing = await h.call('GET', '/v1/agent/service/ghost');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-consul-index'), String(local.index()));
  assert.deepEqual(missing.json, { error: 'unknown service ID "ghost"', code: 'SHOAL_ERR_UNKNOWN_ID' });
});

test('GET /v1/agent/checks maps check IDs to HealthChecks on this node', async () => {
  const checks = (await h.call('GET', '/v1/agent/checks')).json as Record<string, HealthCheckJson>;
  assert.deepEqual(Object.keys(checks), ['serfHealth', 'service:web-1']);
  assert.equal(checks['service:web-1']!.Node, 'a');
  assert.equal(checks['service:web-1']!.ServiceID, 'web-1');
  assert.equal(checks['service:web-1']!.Status, 'critical');
});

test('a refused registration is a 400 listing every problem', async () => {
  const r = await register({ Port: 70000, Tags: 'v1' });
  assert.equal(r.status, 400);
  const body = r.json as { code: string; error: string; problems: { source: string; field: string; message: string }[] };
  assert.equal(body.code, 'SHOAL_ERR_VALIDATION');
  assert.deepEqual(body.problems.map((p) => p.field), ['Name', 'Port', 'Tags']);
  assert.equal(body.error.split('\n').length, 3);
  assert.equal((await register('[]')).status, 400);
  assert.equal((await register('{"Name": ')).status, 400);
  assert.equal((await register({ Name: 'x' }, '?replace-existing-checks=maybe')).status, 400);
});

test('a registration body over the cap is refused with 413', async () => {
  const r = await register({ Name: 'big', Meta: { blob: 'x'.repeat(1024 * 1024 + 10) } });
  assert.equal(r.status, 413);
  assert.equal(local.byId.has('big'), false);
});

test('check pass/warn/fail and update move a TTL check; unknown checks are 404s', async () => {
  assert.equal((await h.call('PUT', '/v1/agent/check/pass/service:web-1?note=ok')).status, 200);
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-1')!.status, 'passing');
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-1')!.output, 'ok');
  await h.call('PUT', '/v1/agent/check/warn/service:web-1');
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-1')!.status, 'warning');
  await h.call('PUT', '/v1/agent/check/fail/service:web-1');
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-1')!.status, 'critical');
  const up = await h.call('PUT', '/v1/agent/check/update/service:web-1', JSON.stringify({ Status: 'passing', Output: 'y'.repeat(5000) }));
  assert.equal(up.status, 200);
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-1')!.output.length, 4096, 'output is capped at 4 KiB');
  const bad = await h.call('PUT', '/v1/agent/check/update/service:web-1', JSON.stringify({ Status: 'fine' }));
  assert.equal(bad.status, 400);
  assert.match((bad.json as { error: string }).error, /Status: expected "passing", "warning" or "critical"/);
  assert.equal((await h.call('PUT', '/v1/agent/check/pass/nope')).status, 404);
  assert.equal((await h.call('PUT', '/v1/agent/check/pass/serfHealth')).status, 404, 'only TTL checks can be set');
});

test('maintenance needs ?enable and a known service', async () => {
  assert.equal((await h.call('PUT', '/v1/agent/service/maintenance/web-1')).status, 400);
  assert.equal((await h.call('PUT', '/v1/agent/service/maintenance/web-1?enable=perhaps')).status, 400);
  assert.equal((await h.call('PUT', '/v1/agent/service/maintenance/ghost?enable=true')).status, 404);
  assert.equal((await h.call('PUT', '/v1/agent/service/maintenance/web-1?enable=true&reason=patching')).status, 200);
  assert.equal(local.calls.at(-1), 'maintenance web-1 true patching');
  await h.call('PUT', '/v1/agent/service/maintenance/web-1?enable=false');
  assert.equal(local.calls.at(-1), 'maintenance web-1 false ');
});

test('a blocking read of /v1/agent/services wakes on a registration', async () => {
  const start = local.index();
  const pending = h.call('GET', `/v1/agent/services?index=${start}&wait=1m`);
  await waitFor('the request to block', () => local.subscribers === 1);
  await register({ Name: 'api', Port: 9000 });
  const r = await pending;
  assert.deepEqual(Object.keys(r.json as object), ['api', 'web-1']);
});

test('PUT /v1/agent/service/deregister/:id removes; unknown IDs are 404s', async () => {
  assert.equal((await h.call('PUT', '/v1/agent/service/deregister/api')).status, 200);
  assert.equal(local.byId.has('api'), false);
  const again = await h.call('PUT', '/v1/agent/service/deregister/api');
  assert.equal(again.status, 404);
  assert.equal((again.json as { code: string }).code, 'SHOAL_ERR_UNKNOWN_ID');
  assert.equal((await h.call('GET', '/v1/agent/service/deregister/api')).status, 405);
});

test('truncateUtf8 never splits a character', () => {
  assert.equal(truncateUtf8('héllo', 2), 'h');
  assert.equal(truncateUtf8('héllo', 3), 'hé');
  assert.equal(truncateUtf8('abc', 10), 'abc');
});
