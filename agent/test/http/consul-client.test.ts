/**
 * Compatibility with the real `consul` npm client (v2), unchanged: registration, deregistration,
 * catalog and health reads, and a watch that rides blocking queries and sees a change.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Consul from 'consul';
import { waitFor } from '../agent/poll';
import { chk, FakeCatalog, FakeLocal, nodeCat, sampleNodes, svc } from './fake-catalog';
import { startApi, type Harness } from './harness';

const catalog = new FakeCatalog(sampleNodes());
const local = new FakeLocal();
let h: Harness;
let consul: Consul;

before(async () => {
  h = await startApi({ catalog, local });
  consul = new Consul({ host: '127.0.0.1', port: h.server.address().port });
});
after(async () => {
  consul.destroy();
  await h.server.close();
});

test('agent.service.register sends Consul\'s PascalCase body; list, check pass and deregister work', async () => {
  await consul.agent.service.register({ name: 'web', id: 'web-9', port: 8080, tags: ['v1'], check: { name: 'web alive', ttl: '10s', timeout: '1s' } });
  assert.deepEqual(local.definitions.at(-1), { Name: 'web', ID: 'web-9', Tags: ['v1'], Port: 8080, Check: { Name: 'web alive', TTL: '10s' } });
  const services = (await consul.agent.service.list()) as Record<string, { Service: string; Port: number }>;
  assert.equal(services['web-9']?.Port, 8080);
  await consul.agent.check.pass({ id: 'service:web-9', note: 'fine' });
  assert.equal(local.checks().find((c) => c.checkId === 'service:web-9')?.status, 'passing');
  await consul.agent.service.maintenance({ id: 'web-9', enable: true, reason: 'patch' });
  assert.equal(local.calls.at(-1), 'maintenance web-9 true patch');
  await consul.agent.service.deregister('web-9');
  assert.equal(local.byId.has('web-9'), false);
});

test('a refused registration and an unknown deregistration surface as HTTP errors', async () => {
  await assert.rejects(consul.agent.service.register({ name: 'bad', port: 70000 }), (err: { statusCode?: number }) => err.statusCode === 400);
  await assert.rejects(consul.agent.service.deregister('ghost'), (err: { statusCode?: number }) => err.statusCode === 404);
});

test('catalog.service.nodes, catalog.node.services and catalog.service.list', async () => {
  const rows = (await consul.catalog.service.nodes({ service: 'web', tag: 'v1' })) as { Node: string; ServiceID: string; ServicePort: number }[];
  assert.deepEqual(rows.map((r) => [r.Node, r.ServiceID, r.ServicePort]), [['n1', 'web-1', 8080], ['n3', 'web-3', 8080]]);
  const list = (await consul.catalog.service.list()) as Record<string, string[]>;
  assert.deepEqual(Object.keys(list), ['redis', 'web', 'web-sidecar-proxy']);
  const node = (await consul.catalog.node.services('n2')) as { Node: { Node: string }; Services: Record<string, unknown> };
  assert.deepEqual([node.Node.Node, Object.keys(node.Services)], ['n2', ['web-2']]);
  // Consul (and Shoal) answer `null` for an unknown node; the client hands it back as nothing.
  assert.equal((await consul.catalog.node.services('ghost')) ?? null, null);
});

test('health.service with passing, and health.state', async () => {
  const entries = (await consul.health.service({ service: 'web', passing: true })) as { Service: { ID: string }; Checks: { Status: string }[] }[];
  assert.deepEqual(entries.map((e) => e.Service.ID), ['web-1', 'web-3']);
  assert.ok(entries.every((e) => e.Checks.every((c) => c.Status === 'passing')));
  const critical = (await consul.health.state('critical')) as { CheckID: string }[];
  assert.deepEqual(critical.map((c) => c.CheckID), ['service:web-2']);
});

test('a watch on health.service (blocking queries) sees an instance come up', async () => {
  const changes: string[][] = [];
  const errors: unknown[] = [];
  const watch = consul.watch({ method: consul.health.service, options: { service: 'api', passing: 'true', wait: '5s' } });
  watch.on('change', (data: { Service: { ID: string } }[]) => changes.push(data.map((e) => e.Service.ID)));
  watch.on('error', (err: unknown) => errors.push(err));
  try {
    await waitFor('the first answer', () => changes.length === 1);
    assert.deepEqual(changes[0], []);
    await waitFor('the watch to block', () => catalog.subscribers === 1);
    catalog.set([...sampleNodes(), nodeCat({ node: 'n9', address: '10.0.0.9', services: [svc({ id: 'api-1', name: 'api', port: 9000 })], checks: [chk({ checkId: 'serfHealth' })] })]);
    await waitFor('the change', () => changes.length === 2);
    assert.deepEqual(changes[1], ['api-1']);
    assert.deepEqual(errors, []);
    assert.equal(watch.isRunning(), true);
  } finally {
    watch.end();
  }
});

test('a watch on a node that does not exist yet keeps running (null body, index > 0)', async () => {
  const changes: unknown[] = [];
  const errors: unknown[] = [];
  const watch = consul.watch({ method: consul.catalog.node.services, options: { node: 'later', wait: '5s' } });
  watch.on('change', (data: unknown) => changes.push(data));
  watch.on('error', (err: unknown) => errors.push(err));
  try {
    await waitFor('the first answer', () => changes.length === 1);
    assert.equal(changes[0], null);
    await waitFor('the watch to block', () => catalog.subscribers === 1);
    catalog.set([...sampleNodes(), nodeCat({ node: 'later', services: [svc({ name: 'late', port: 1 })] })]);
    await waitFor('the change', () => changes.length === 2);
    assert.deepEqual(Object.keys((changes[1] as { Services: object }).Services), ['late']);
    assert.deepEqual(errors, []);
  } finally {
    watch.end();
  }
});
