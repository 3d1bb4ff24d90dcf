/**
 * The connect endpoints against a real dev-mode agent in this process (its own in-memory root and
 * intermediate; it signs its own leaves): Consul's shapes, blocking queries, the refusal for a
 * service that is not local, intentions, renewal and a dev rotation driven over HTTP.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Agent } from '../../src/agent';
import { loadConfig } from '../../src/config';
import { systemClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { handshake } from './tls';

let agent: Agent;
let base: string;

before(async () => {
  const config = await loadConfig({
    dev: true, hostname: 'dev1',
    documents: [{ source: 'test', raw: { node_name: 'dev1', bind_addr: '127.0.0.1', ports: { http: 0, serf_lan: 0, serf_wan: 0, grpc: 0, dns: 0 } } }],
  });
  agent = new Agent({ config, logger: noopLogger as never, processMetrics: false });
  await agent.start();
  const a = agent.httpAddress();
  base = `http://${a.host}:${a.port}`;
  const reg = await call('PUT', '/v1/agent/service/register', { Name: 'web', Port: 8080, Connect: { SidecarService: {} } });
  assert.equal(reg.status, 200, reg.text);
  await call('PUT', '/v1/agent/service/register', { Name: 'plain', Port: 9090 });
});

after(async () => {
  await agent?.shutdown({ leave: false });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string; headers: Headers }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

test('roots: Consul CARootList on both paths, X-Consul-Index, ?pem=true as text', async () => {
  for (const path of ['/v1/connect/ca/roots', '/v1/agent/connect/ca/roots']) {
    const r = await call('GET', path);
    assert.equal(r.status, 200);
    assert.ok(Number(r.headers.get('x-consul-index')) > 0);
    assert.equal(r.json.TrustDomain, 'shoal.dev');
    assert.equal(r.json.Roots.length, 1);
    const root = r.json.Roots[0];
    assert.equal(root.ID, r.json.ActiveRootID);
    assert.equal(root.Active, true);
    assert.match(root.RootCert, /BEGIN CERTIFICATE/);
    assert.equal(root.IntermediateCerts.length, 1);
    assert.ok(Date.parse(root.NotAfter) > Date.parse(root.NotBefore));
  }
  const pem = await call('GET', '/v1/connect/ca/roots?pem=true');
  assert.match(pem.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal((pem.text.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
});

test('leaf: IssuedCert for a local service; it shakes hands against the roots; blocking wakes on renewal', async () => {
  const r = await call('GET', '/v1/agent/connect/ca/leaf/web');
  assert.equal(r.status, 200, r.text);
  const l = r.json;
  assert.equal(l.Service, 'web');
  assert.equal(l.ServiceURI, 'spiffe://shoal.dev/ns/default/dc/dc1/svc/web');
  assert.match(l.PrivateKeyPEM, /BEGIN PRIVATE KEY/);
  assert.equal((l.CertPEM.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf followed by its intermediate');
  assert.equal(new X509Certificate(l.CertPEM).subjectAltName, 'URI:spiffe://shoal.dev/ns/default/dc/dc1/svc/web');
  const roots = await call('GET', '/v1/connect/ca/roots?pem=true');
  const [leafPem, ...chain] = l.CertPEM.split(/(?<=-----END CERTIFICATE-----\n)/);
  assert.equal(await handshake({ certPem: leafPem, keyPem: l.PrivateKeyPEM }, chain, [roots.text]), 'ok');

  const index = r.headers.get('x-consul-index');
  const t0 = Date.parse(new Date().toISOString());
  const held = call('GET', `/v1/agent/connect/ca/leaf/web?index=${index}&wait=20s`);
  const renewed = await call('PUT', '/v1/agent/connect/ca/renew');
  assert.equal(renewed.status, 200);
  assert.ok(renewed.json.Renewed.length >= 2, 'agent and web leaves renewed');
  const woke = await held;
  assert.ok(Date.parse(new Date().toISOString()) - t0 < 15_000, 'the blocking query returned on the change, not at the wait');
  assert.notEqual(woke.json.SerialNumber, l.SerialNumber);
  assert.ok(Number(woke.headers.get('x-consul-index')) > Number(index));
  const plain = await call('GET', '/v1/agent/connect/ca/leaf/plain');
  assert.equal(plain.status, 200, 'a local service without a sidecar gets a leaf on request');
});

test('leaf: a service not registered on this agent is refused with a clear error', async () => {
  const r = await call('GET', '/v1/agent/connect/ca/leaf/elsewhere');
  assert.equal(r.status, 403);
  assert.equal(r.json.code, 'SHOAL_ERR_CA_SERVICE_NOT_LOCAL');
  assert.match(r.json.error, /"elsewhere" is not registered on this agent \(node dev1\)/);
});

test('authorize: intentions decide, exact before wildcard, default allow in dev', async () => {
  const put = await call('PUT', '/v1/config', { Kind: 'service-intentions', Name: 'web', Sources: [{ Name: 'api', Action: 'allow' }, { Name: '*', Action: 'deny' }] });
  assert.equal(put.status, 200, put.text);
  const ask = (target: string, svc: string) => call('POST', '/v1/agent/connect/authorize', { Target: target, ClientCertURI: `spiffe://shoal.dev/ns/default/dc/dc1/svc/${svc}` });
  assert.deepEqual((await ask('web', 'api')).json.Authorized, true);
  const denied = await ask('web', 'batch');
  assert.equal(denied.json.Authorized, false);
  assert.match(denied.json.Reason, /\* => web/);
  assert.equal((await ask('db', 'batch')).json.Authorized, true, 'no intention: the dev default (allow)');
  const agentUri = await call('POST', '/v1/agent/connect/authorize', { Target: 'web', ClientCertURI: 'spiffe://shoal.dev/agent/dc/dc1/node/x' });
  assert.equal(agentUri.json.Authorized, false);
  assert.equal((await call('POST', '/v1/agent/connect/authorize', { Target: 'web', ClientCertURI: 'http://nope' })).status, 400);
  assert.equal((await call('POST', '/v1/agent/connect/authorize', { ClientCertURI: 'spiffe://shoal.dev/ns/default/dc/dc1/svc/a' })).status, 400);
});

test('rotate: bad material is refused with the reason; a dev rotation over HTTP completes and blocking roots wake', async () => {
  const bad = await call('PUT', '/v1/connect/ca/rotate', { RootCert: 'nope', IntermediateCert: 'x', IntermediateKey: 'y', CrossSignedCert: 'z' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.code, 'SHOAL_ERR_CA_ROTATION_REFUSED');
  const missing = await call('PUT', '/v1/connect/ca/rotate', {});
  assert.match(missing.json.error, /RootCert is required/);
  const dry = await call('PUT', '/v1/connect/ca/rotate', { Generate: true, DryRun: true });
  assert.equal(dry.json.DryRun, true);
  const before = await call('GET', '/v1/connect/ca/roots');
  const oldId = before.json.ActiveRootID;
  const held = call('GET', `/v1/connect/ca/roots?index=${before.headers.get('x-consul-index')}&wait=30s`);
  const started = await call('PUT', '/v1/connect/ca/rotate', { Generate: true, ReissueWindow: '1s', DropGrace: '1s' });
  assert.equal(started.status, 200, started.text);
  assert.equal(started.json.Rotation.OldRootID, oldId);
  const again = await call('PUT', '/v1/connect/ca/rotate', { Generate: true });
  assert.equal(again.status, 409, 'one rotation at a time');
  assert.ok((await held).json.Roots.length >= 2, 'the blocking roots query woke when the new root was published');
  let status: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (let i = 0; i < 300; i++) {
    status = (await call('GET', '/v1/connect/ca/status')).json;
    if (status.Rotation?.Phase === 'done') break;
    await systemClock.sleep(100);
  }
  assert.equal(status.Rotation.Phase, 'done', JSON.stringify(status.Rotation));
  assert.equal(status.Rotation.Step, 5);
  assert.deepEqual(status.RootIDs, [status.Rotation.NewRootID]);
  assert.equal(status.Members[0].LeavesUnderNewRoot, true);
  const leaf = await call('GET', '/v1/agent/connect/ca/leaf/web');
  const roots = await call('GET', '/v1/connect/ca/roots?pem=true');
  const [leafPem, ...chain] = leaf.json.CertPEM.split(/(?<=-----END CERTIFICATE-----\n)/);
  assert.equal(await handshake({ certPem: leafPem, keyPem: leaf.json.PrivateKeyPEM }, chain, [roots.text]), 'ok', 'the reissued leaf verifies against the new root alone');
  const adv = await call('PUT', '/v1/connect/ca/rotate/advance');
  assert.equal(adv.status, 409);
});

test('metrics: leaf expiry per identity', async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /shoal_ca_leaf_expiry_seconds\{identity="spiffe:\/\/shoal.dev\/ns\/default\/dc\/dc1\/svc\/web"\} \d+/);
  assert.match(text, /shoal_ca_leaf_expiry_seconds\{identity="spiffe:\/\/shoal.dev\/agent\/dc\/dc1\/node\/dev1"\}/);
});
