import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCatalogNodes, formatCatalogServices, formatServices, serviceHealth } from '../../src/cli/format-services';
import { agentServiceJson, healthCheckJson, nodeJson } from '../../src/http/consul-json';
import { chk, nodeCat, svc } from '../http/fake-catalog';

const services = Object.fromEntries([
  svc({ id: 'web-1', name: 'web', port: 8080, tags: ['v1', 'primary'] }),
  svc({ id: 'api', name: 'api', port: 9000 }),
  svc({ id: 'web-1-sidecar-proxy', name: 'web-sidecar-proxy', kind: 'connect-proxy', port: 21000 }),
  svc({ id: 'db', name: 'db', port: 5432 }),
].map((s) => [s.id, agentServiceJson(s, { datacenter: 'dc1' })]));

const checks = Object.fromEntries([
  chk({ checkId: 'serfHealth' }),
  chk({ checkId: 'service:web-1', serviceId: 'web-1', status: 'warning' }),
  chk({ checkId: 'service:api', serviceId: 'api', status: 'critical' }),
  chk({ checkId: '_service_maintenance:db', serviceId: 'db', status: 'critical' }),
].map((c) => [c.checkId, healthCheckJson(c, 'a', 1)]));

test('shoal services: ID, Service, Port, Tags, Health, sorted by ID', () => {
  assert.equal(formatServices(services, checks), [
    'ID                   Service            Port   Tags        Health',
    'api                  api                9000               critical',
    'db                   db                 5432               maintenance',
    'web-1                web                8080   v1,primary  warning',
    'web-1-sidecar-proxy  web-sidecar-proxy  21000              passing',
  ].join('\n'));
});

test('a node check applies to every service; no checks is passing', () => {
  const sick = { ...checks, serfHealth: healthCheckJson(chk({ checkId: 'serfHealth', status: 'critical' }), 'a', 1) };
  assert.equal(serviceHealth('web-1-sidecar-proxy', Object.values(sick)), 'critical');
  assert.equal(serviceHealth('x', []), 'passing');
});

test('shoal catalog nodes, plain and detailed', () => {
  const nodes = [nodeCat({ node: 'n2', address: '10.0.0.2', meta: { zone: 'b', 'node-id': 'abcd' } }), nodeCat({ node: 'n1', address: '10.0.0.1' })].map((n) => nodeJson(n, 1));
  assert.equal(formatCatalogNodes(nodes), ['Node  Address   DC', 'n1    10.0.0.1  dc1', 'n2    10.0.0.2  dc1'].join('\n'));
  assert.equal(formatCatalogNodes(nodes, { detailed: true }), [
    'Node  ID    Address   DC   Meta',
    'n1          10.0.0.1  dc1',
    'n2    abcd  10.0.0.2  dc1  node-id=abcd, zone=b',
  ].join('\n'));
});

test('shoal catalog services, with and without tags', () => {
  const s = { web: ['v2', 'v1'], api: [], 'web-sidecar-proxy': [] };
  assert.equal(formatCatalogServices(s), 'api\nweb\nweb-sidecar-proxy');
  assert.equal(formatCatalogServices(s, { tags: true }), ['api', 'web                v1,v2', 'web-sidecar-proxy'].join('\n'));
});
