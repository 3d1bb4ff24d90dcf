import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckRecord, NodeCatalog, ServiceInstance, ServiceRecord } from '../../src/catalog/types';
import type { ConfigEntry, StoredEntry } from '../../src/config-entries';
import { buildSnapshot, type SnapshotInputs } from '../../src/proxy/snapshot';

function svc(p: Partial<ServiceRecord> & { id: string; name: string }): ServiceRecord {
  return { kind: '', address: '', port: 0, tags: [], meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, namespace: 'default', source: 'test', ...p };
}

function sidecar(dest: string, port: number, upstreams: ServiceRecord['proxy'] extends infer P ? P extends { upstreams: infer U } ? U : never : never = [], config = {}): ServiceRecord {
  return svc({
    id: `${dest}-sidecar-proxy`, name: `${dest}-sidecar-proxy`, kind: 'connect-proxy', port,
    proxy: { destinationServiceName: dest, destinationServiceId: dest, localServiceAddress: '127.0.0.1', localServicePort: 8080, upstreams, config },
  });
}

function check(serviceId: string, status: CheckRecord['status']): CheckRecord {
  return { checkId: `c-${serviceId}`, name: 'c', status, notes: '', output: '', serviceId, serviceName: serviceId, serviceTags: [], type: 'ttl', interval: '', timeout: '' };
}

function node(name: string, address: string, checks: CheckRecord[]): NodeCatalog {
  return { node: name, address, datacenter: 'dc1', meta: {}, version: { generation: 1, seq: 1 }, services: [], checks };
}

function inputs(over: Partial<SnapshotInputs> = {}, entries: ConfigEntry[] = [], instances: ServiceInstance[] = []): SnapshotInputs {
  const stored = (e: ConfigEntry): StoredEntry => ({ entry: e, createIndex: 1, modifyIndex: 1 });
  return {
    trustDomain: 'td.test', datacenter: 'dc1', nodeName: 'n0', bindHost: '10.0.0.1', defaultIntentionPolicy: 'deny',
    local: { services: () => [svc({ id: 'web', name: 'web', port: 8080 }), sidecar('web', 21000, [{
      destinationName: 'api', destinationNamespace: 'default', datacenter: '', localBindAddress: '', localBindPort: 9191, config: {},
    }])] },
    catalog: { instances: () => instances, node: () => undefined },
    memberState: () => 'alive',
    configEntries: {
      get: (kind, name) => { const e = entries.find((x) => x.Kind === kind && x.Name === name); return e === undefined ? undefined : stored(e); },
      list: (kind) => entries.filter((x) => kind === undefined || x.Kind === kind).map(stored),
    },
    roots: ['ROOT'],
    leaf: (s) => (s === 'web' ? { certPem: 'CERT', keyPem: 'KEY', spiffeId: 'spiffe://td.test/ns/default/dc/dc1/svc/web' } : undefined),
    ...over,
  };
}

const apiInstance = (n: string, addr: string, checks: CheckRecord[] = []): ServiceInstance => {
  const sc = sidecar('api', 21000);
  return { node: node(n, addr, checks), service: sc, checks };
};

test('an inbound listener per local sidecar and an upstream listener per upstream, with identities and defaults', () => {
  const s = buildSnapshot(inputs());
  assert.deepEqual(s.inbound, [{
    proxyId: 'web-sidecar-proxy', service: 'web', spiffeId: 'spiffe://td.test/ns/default/dc/dc1/svc/web', host: '10.0.0.1', port: 21000,
    localAddress: '127.0.0.1', localPort: 8080, localConnectTimeoutMs: 5000, idleTimeoutMs: 3_600_000,
  }]);
  assert.equal(s.upstreams.length, 1);
  const u = s.upstreams[0]!;
  assert.equal(u.bindAddress, '127.0.0.1');
  assert.equal(u.bindPort, 9191);
  assert.equal(u.policy, 'round_robin');
  assert.equal(u.connectTimeoutMs, 5000);
  assert.deepEqual(u.outlier, { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
  assert.deepEqual(Object.keys(s.certs), ['web']);
  assert.equal(s.accessLogs, true);
});

test('endpoints: alive nodes only, none with a critical node, sidecar or destination check; SNI and SPIFFE ID per endpoint', () => {
  const instances = [
    apiInstance('a1', '10.0.0.11'),
    apiInstance('a2', '10.0.0.12', [check('api', 'critical')]),
    apiInstance('a3', '10.0.0.13', [check('', 'critical')]),
    apiInstance('a4', '10.0.0.14', [check('api', 'warning')]),
    apiInstance('a5', '10.0.0.15'),
  ];
  const s = buildSnapshot(inputs({ memberState: (n) => (n === 'a5' ? 'suspect' : 'alive') }, [], instances));
  const eps = s.upstreams[0]!.endpoints;
  assert.deepEqual(eps.map((e) => e.node), ['a1', 'a4'], 'critical and suspect instances leave at once; warning still serves');
  assert.deepEqual(eps[0], {
    id: 'a1/api-sidecar-proxy', node: 'a1', host: '10.0.0.11', port: 21000,
    spiffeId: 'spiffe://td.test/ns/default/dc/dc1/svc/api', sni: 'api.default.dc1.internal.td.test',
  });
});

test('policy and connect timeout from the service-resolver; outlier settings from service-defaults; access logs off by proxy-defaults', () => {
  const entries: ConfigEntry[] = [
    { Kind: 'service-resolver', Name: 'api', ConnectTimeout: '2s', LoadBalancer: { Policy: 'least_request' } },
    { Kind: 'service-defaults', Name: 'web', UpstreamConfig: { Overrides: [{ Name: 'api', PassiveHealthCheck: { MaxFailures: 2, BaseEjectionTime: '5s', MaxEjectionPercent: 50 } }] } },
    { Kind: 'proxy-defaults', Name: 'global', AccessLogs: { Enabled: false } },
    { Kind: 'service-intentions', Name: 'api', Sources: [{ Name: 'web', Action: 'allow' }] },
  ];
  const s = buildSnapshot(inputs({}, entries));
  const u = s.upstreams[0]!;
  assert.equal(u.policy, 'least_request');
  assert.equal(u.connectTimeoutMs, 2000);
  assert.deepEqual(u.outlier, { consecutiveFailures: 2, baseEjectionMs: 5000, maxEjectionPercent: 50 });
  assert.equal(s.accessLogs, false);
  assert.equal(s.intentions.length, 1);
});
