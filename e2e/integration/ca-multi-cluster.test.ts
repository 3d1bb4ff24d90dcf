/**
 * The trust bundle across clusters with real agent processes: two clusters (dc1, dc2) under one root,
 * each with one server (holding its cluster's intermediate) and one client. The servers join each
 * other's WAN pool (`retry_join_wan`); each client learns the other cluster's intermediate from its
 * own server over the LAN pool, so a leaf of dc1 verifies against dc2's bundle.
 *
 * Addresses: 127.0.9.1-4 (this file owns 127.0.9.0/24).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createIntermediate, writeMaterial } from '../../ca/src';
import { systemClock } from '../../agent/src/core/clock';
import { caConfig, makeCaFiles, registerWithSidecar, splitPem, TRUST_DOMAIN, waitLeaf, type CaFiles } from './ca-helpers';
import { Cluster, http, since, waitFor, type TestAgent } from './harness';

const cluster = new Cluster('ca-multi-cluster');
after(() => cluster.cleanup());

const ip = (i: number): string => `127.0.9.${i}`;

interface CaRootsJson {
  ActiveRootID: string;
  Roots: Array<{ ID: string; RootCert: string; IntermediateCerts: string[] | null; Active: boolean }>;
}

async function roots(agent: TestAgent): Promise<CaRootsJson> {
  const r = await http(agent.base, 'GET', '/v1/agent/connect/ca/roots', undefined, 5_000);
  if (r.status !== 200) throw new Error(`${agent.name}: roots -> ${r.status} ${r.text}`);
  return JSON.parse(r.text) as CaRootsJson;
}

/** The intermediates `agent` lists under the root (Consul's CARoot.IntermediateCerts). */
async function intermediatesOf(agent: TestAgent, rootId: string): Promise<string[]> {
  return (await roots(agent)).Roots.find((r) => r.ID === rootId)?.IntermediateCerts ?? [];
}

/** dc1's material from the helpers, and a dc2 intermediate under the same root. */
async function dc2Files(dc1: CaFiles): Promise<CaFiles> {
  const intermediate = await createIntermediate({ root: dc1.root, datacenter: 'dc2', trustDomain: TRUST_DOMAIN, clock: systemClock });
  const i = await writeMaterial(dc1.dir, 'dc2-intermediate', intermediate);
  return { ...dc1, intermediate, intermediateCert: i.certPath, intermediateKey: i.keyPath };
}

test('two clusters: each client lists the other cluster\'s intermediate, and a dc1 leaf verifies against dc2\'s bundle', { timeout: 120_000 }, (t) => cluster.diagnose(async () => {
  const dc1 = await makeCaFiles(cluster);
  const dc2 = await dc2Files(dc1);
  const cfg = (files: CaFiles, dc: string, server: boolean): Record<string, unknown> => ({ ...caConfig(files, server, { leaf_ttl: '1h' }), datacenter: dc });
  const s1 = cluster.add({ name: 's1', ip: ip(1), config: cfg(dc1, 'dc1', true) });
  const c1 = cluster.add({ name: 'c1', ip: ip(2), args: ['-retry-join', ip(1)], config: cfg(dc1, 'dc1', false) });
  const s2 = cluster.add({ name: 's2', ip: ip(3), config: { ...cfg(dc2, 'dc2', true), retry_join_wan: [ip(1)] } });
  const c2 = cluster.add({ name: 'c2', ip: ip(4), args: ['-retry-join', ip(3)], config: cfg(dc2, 'dc2', false) });
  const t0 = systemClock.now();
  await Promise.all([s1, c1, s2, c2].map((a) => a.start()));
  const started = since(t0);

  const rootId = dc1.root.id;
  const sawAt: Record<string, number> = {};
  await waitFor('every agent to list both clusters\' intermediates', async () => {
    for (const [a, want] of [[c2, dc1], [s2, dc1], [c1, dc2], [s1, dc2]] as const) {
      if (sawAt[a.name] !== undefined) continue;
      const ints = await intermediatesOf(a, rootId);
      if (ints.some((p) => p.trim() === want.intermediate.certPem.trim())) sawAt[a.name] = since(t0);
    }
    return Object.keys(sawAt).length === 4;
  }, { timeoutMs: 30_000, everyMs: 100, describe: () => JSON.stringify(sawAt) });
  t.diagnostic(`agents answered ${started} ms after start; the other cluster's intermediate was listed at (ms after start): ${JSON.stringify(sawAt)}`);
  assert.deepEqual((await roots(c2)).Roots.map((r) => r.ID), [rootId], 'one root, shared');
  assert.equal((await roots(c2)).ActiveRootID, rootId);

  // A service leaf issued in dc1, checked with nothing but what dc2's client serves (Node's X509Certificate and tls).
  await registerWithSidecar(c1, 'web', 8080);
  const issued = await waitLeaf(c1, 'web');
  assert.equal(issued.ServiceURI, `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/web`);
  const leafCert = new X509Certificate(splitPem(issued.CertPEM)[0]!);
  const bundle = await roots(c2);
  const dc2Roots = bundle.Roots.map((r) => new X509Certificate(r.RootCert));
  const dc2Ints = bundle.Roots.flatMap((r) => r.IntermediateCerts ?? []).map((p) => new X509Certificate(p));
  const issuer = dc2Ints.find((i) => leafCert.checkIssued(i) && leafCert.verify(i.publicKey));
  assert.ok(issuer !== undefined, 'dc2\'s bundle holds the intermediate that signed the dc1 leaf');
  assert.ok(dc2Roots.some((r) => issuer.checkIssued(r) && issuer.verify(r.publicKey)), 'and the root that signed that intermediate');
  assert.ok(Date.parse(leafCert.validTo) > systemClock.wallNow());

  // And a TLS handshake: dc1's leaf presented with only the leaf (no chain), verified by dc2's roots plus intermediates.
  const { createSecureContext, createServer, connect } = await import('node:tls');
  const ca = [...bundle.Roots.map((r) => r.RootCert), ...bundle.Roots.flatMap((r) => r.IntermediateCerts ?? [])];
  const server = createServer({ cert: splitPem(issued.CertPEM)[0]!, key: issued.PrivateKeyPEM }, (s) => s.end('ok'));
  await new Promise<void>((res) => server.listen(0, ip(4), res));
  try {
    const port = (server.address() as { port: number }).port;
    const authorized = await new Promise<boolean>((res, rej) => {
      const sock = connect({ host: ip(4), port, secureContext: createSecureContext({ ca }), checkServerIdentity: () => undefined }, () => {
        res(sock.authorized);
        sock.end();
      });
      sock.on('error', rej);
    });
    assert.equal(authorized, true, 'dc2\'s bundle verifies a dc1 leaf in a TLS handshake');
  } finally {
    server.close();
  }
}));
