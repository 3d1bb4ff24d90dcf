/**
 * The distributed CA with real agent processes: three servers (each with the cluster intermediate)
 * and two clients. Clients bootstrap with the token, then renew over mTLS; with any two of the three
 * servers killed they still obtain new leaves and renew existing ones; a leaf for a service that is
 * not registered on the asking agent is refused locally (403) and, asked directly with the agent's own
 * certificate, by the server (forbidden, counted).
 *
 * Addresses: 127.0.7.1-5 (this file owns 127.0.7.1-9).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaError, CaErrorCode, CaGrpcClient, createCsr, generateKeyPair } from '../../ca/src';
import { systemClock } from '../../agent/src/core/clock';
import { caConfig, leaf, makeCaFiles, registerWithSidecar, rootsPem, TRUST_DOMAIN, waitLeaf, type CaFiles } from './ca-helpers';
import { Cluster, http, sample, since, waitFor, waitForViews, type TestAgent } from './harness';

const cluster = new Cluster('ca-failover');
after(() => cluster.cleanup());

const ip = (i: number): string => `127.0.7.${i}`;
const seeds = ['-retry-join', ip(1), '-retry-join', ip(2), '-retry-join', ip(3)];
let files: CaFiles;
const servers: TestAgent[] = [];
const clients: TestAgent[] = [];

test('three servers and two clients: clients bootstrap, every leaf verifies with openssl', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  files = await makeCaFiles(cluster);
  for (let i = 0; i < 3; i++) servers.push(cluster.add({ name: `s${i}`, ip: ip(1 + i), args: seeds, config: caConfig(files, true, { leaf_ttl: '1h' }) }));
  for (let i = 0; i < 2; i++) clients.push(cluster.add({ name: `c${i}`, ip: ip(4 + i), args: seeds, config: caConfig(files, false, { leaf_ttl: '1h' }) }));
  const t0 = systemClock.now();
  await Promise.all([...servers, ...clients].map((a) => a.start()));
  await waitForViews('the cluster to converge', [...servers, ...clients], Object.fromEntries([...servers, ...clients].map((a) => [a.name, 'alive'])), 10_000);
  for (const c of clients) await registerWithSidecar(c, `svc-${c.name}`, 8080);
  const leaves = await Promise.all(clients.map((c) => waitLeaf(c, `svc-${c.name}`)));
  t.diagnostic(`clients served their first service leaves ${since(t0)} ms after the agents were started`);
  for (const [i, c] of clients.entries()) {
    const l = leaves[i]!;
    assert.equal(l.ServiceURI, `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/svc-${c.name}`);
    const leafFile = join(cluster.root, `${c.name}-leaf.pem`);
    writeFileSync(leafFile, l.CertPEM.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
    const v = spawnSync('openssl', ['verify', '-CAfile', files.rootCert, '-untrusted', files.intermediateCert, leafFile], { encoding: 'utf8' });
    assert.equal(v.status, 0, `openssl verify: ${v.stdout}${v.stderr}`);
    const text = spawnSync('openssl', ['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }).stdout;
    assert.match(text, new RegExp(`URI:spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/svc-${c.name}\\s*$`));
    const cache = join(c.dataDir, 'certs', `service.default.svc-${c.name}.json`);
    assert.equal(statSync(cache).mode & 0o777, 0o600, 'cached leaf is 0600');
    assert.equal((await c.metrics()).get('shoal_ca_client_requests_total{outcome="ok"}')! >= 2, true, 'agent + service leaf came from servers');
  }
  assert.equal((await rootsPem(clients[0]!)).trim(), files.root.certPem.trim(), 'clients hold the root from the bundle');
}));

test('with any two servers killed, clients still obtain new leaves and renew existing ones', { timeout: 240_000 }, (t) => cluster.diagnose(async () => {
  const pairs: Array<[number, number]> = [[0, 1], [0, 2], [1, 2]];
  for (const [a, b] of pairs) {
    const killed = [servers[a]!, servers[b]!];
    await Promise.all(killed.map((s) => s.kill9()));
    const t0 = systemClock.now();
    for (const c of clients) {
      const before = (await leaf(c, `svc-${c.name}`)).cert!;
      const renew = await http(c.base, 'PUT', '/v1/agent/connect/ca/renew', undefined, 60_000);
      assert.equal(renew.status, 200, renew.text);
      const renewed = JSON.parse(renew.text) as { Renewed: Array<{ URI: string; SerialNumber: string }> };
      const uris = renewed.Renewed.map((x) => x.URI);
      assert.ok(uris.includes(`spiffe://${TRUST_DOMAIN}/agent/dc/dc1/node/${c.name}`) && uris.includes(before.ServiceURI),
        `${c.name}: agent and service leaves renewed with ${killed.map((s) => s.name).join('+')} down: ${renew.text}`);
      const after = (await leaf(c, `svc-${c.name}`)).cert!;
      assert.notEqual(after.SerialNumber, before.SerialNumber);
      const fresh = `new-${a}${b}-${c.name}`;
      await registerWithSidecar(c, fresh, 9000);
      const got = await waitLeaf(c, fresh, 60_000);
      assert.equal(got.ServiceURI, `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/${fresh}`);
    }
    t.diagnostic(`servers ${killed.map((s) => s.name).join('+')} down: both clients renewed every leaf and obtained a new one in ${since(t0)} ms`);
    await Promise.all(killed.map((s) => s.start()));
    const everyone = [...servers, ...clients];
    await waitForViews('the killed servers to rejoin', everyone, Object.fromEntries(everyone.map((x) => [x.name, 'alive'])), 45_000);
  }
}));

test('a leaf for a service not registered on the asking agent is refused: by the agent, and by the servers', { timeout: 60_000 }, () => cluster.diagnose(async () => {
  const c0 = clients[0]!;
  const local = await leaf(c0, 'svc-c1');
  assert.equal(local.status, 403);
  assert.match(local.text, /SHOAL_ERR_CA_SERVICE_NOT_LOCAL/);
  // The same request made directly with c0's own credentials (as a compromised or buggy agent could).
  const agentLeaf = JSON.parse(readFileSync(join(c0.dataDir, 'certs', 'agent.json'), 'utf8')) as { certPem: string; chainPem: string[]; keyPem: string };
  const grpc = new CaGrpcClient({ clock: systemClock });
  try {
    const before = await Promise.all(servers.map(async (s) => sample(await s.metrics(), 'shoal_ca_sign_requests_total', { outcome: 'forbidden' })));
    for (const service of ['svc-c1', 'db']) {
      const csrPem = await createCsr({ identity: { kind: 'service', trustDomain: TRUST_DOMAIN, namespace: 'default', datacenter: 'dc1', service }, keys: await generateKeyPair() });
      await assert.rejects(grpc.sign(`${servers[0]!.ip}:7501`, { csrPem }, {
        clientCertPem: [agentLeaf.certPem, ...agentLeaf.chainPem].join(''), clientKeyPem: agentLeaf.keyPem, caPems: [files.root.certPem, files.intermediate.certPem],
        trustDomain: TRUST_DOMAIN, datacenter: 'dc1',
      }, 10_000), (err: unknown) => err instanceof CaError && err.code === CaErrorCode.forbidden && /svc|not registered|catalog/.test(err.message), `CSR for ${service}`);
    }
    await waitFor('the refusals to be counted', async () => {
      const now = await Promise.all(servers.map(async (s) => sample(await s.metrics(), 'shoal_ca_sign_requests_total', { outcome: 'forbidden' })));
      return now.reduce((x, y) => x + y, 0) - before.reduce((x, y) => x + y, 0) >= 2;
    }, { timeoutMs: 5_000 });
    const own = await createCsr({ identity: { kind: 'service', trustDomain: TRUST_DOMAIN, namespace: 'default', datacenter: 'dc1', service: 'svc-c0' }, keys: await generateKeyPair() });
    const ok = await grpc.sign(`${servers[0]!.ip}:7501`, { csrPem: own }, {
      clientCertPem: [agentLeaf.certPem, ...agentLeaf.chainPem].join(''), clientKeyPem: agentLeaf.keyPem, caPems: [files.root.certPem, files.intermediate.certPem], trustDomain: TRUST_DOMAIN,
    }, 10_000);
    assert.equal(ok.rootId, files.root.id, 'the same credentials get a leaf for a service that is registered on c0');
  } finally {
    grpc.close();
  }
}));
