import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { VirtualClock } from '../../agent/src/core/clock';
import { certInfo, clampTtlMs, CaError, CaErrorCode, LeafSigner } from '../src';
import { readTlv } from '../src/der';
import { x509 } from '../src/x509';
import { agentId, csrFor, makePki, openssl, opensslVerify, serviceId, tempDir, writePems, type Pki } from './helpers';

const HOUR = 3_600_000;
const clock = new VirtualClock(0);
let pki: Pki;
const tmp = tempDir();

before(async () => {
  pki = await makePki(clock);
});
after(() => tmp.cleanup());

test('a signed leaf verifies with openssl against the root through the intermediate', async () => {
  const { csrPem } = await csrFor(serviceId('web'));
  const res = await pki.signer.sign(csrPem, serviceId('web'));
  const v = opensslVerify(tmp.dir, pki.root.certPem, res.chainPem, res.certPem, clock.wallNow());
  assert.ok(v.ok, v.out);
  assert.deepEqual(res.chainPem, [pki.intermediate.certPem]);
  assert.equal(res.rootId, pki.root.id);
});

test('the leaf\'s only SAN is the SPIFFE ID, with the usages and identifiers of an X.509-SVID', async () => {
  const { csrPem } = await csrFor(serviceId('web'));
  const res = await pki.signer.sign(csrPem, serviceId('web'));
  const p = writePems(tmp.dir, { 'leaf.pem': res.certPem });
  const san = openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', p['leaf.pem']!]);
  assert.equal(san.status, 0, san.stderr);
  assert.deepEqual(san.stdout.trim().split('\n').map((l) => l.trim()), [
    'X509v3 Subject Alternative Name:', 'URI:spiffe://example.org/ns/default/dc/dc1/svc/web',
  ]);
  const text = openssl(['x509', '-noout', '-text', '-in', p['leaf.pem']!]).stdout;
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Key Agreement/);
  assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /Subject: CN\s?=\s?web/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  const info = certInfo(res.certPem);
  assert.equal(info.akiHex, pki.intermediate.id);
  assert.match(info.skiHex, /^[0-9a-f]{40}$/);
  assert.equal(info.isCa, false);
  // Node's own parser agrees on the fields the response reports.
  const node = new NodeX509(res.certPem);
  assert.equal(node.subjectAltName, 'URI:spiffe://example.org/ns/default/dc/dc1/svc/web');
  assert.equal(node.serialNumber.toLowerCase().replace(/^0+/, ''), res.serialHex.replace(/^0+/, ''));
  assert.equal(Date.parse(node.validFrom), res.notBeforeMs);
  assert.equal(Date.parse(node.validTo), res.notAfterMs);
  assert.ok(node.checkIssued(new NodeX509(pki.intermediate.certPem)));
  assert.ok(node.verify(new NodeX509(pki.intermediate.certPem).publicKey));
  // And @peculiar/x509 verifies the signature too.
  assert.ok(await new x509.X509Certificate(res.certPem).verify({ publicKey: new x509.X509Certificate(pki.intermediate.certPem).publicKey, signatureOnly: true }));
});

test('an agent leaf carries the node name as CN and the agent SPIFFE ID', async () => {
  const { csrPem } = await csrFor(agentId('node-7'));
  const res = await pki.signer.sign(csrPem, agentId('node-7'));
  const node = new NodeX509(res.certPem);
  assert.equal(node.subject, 'CN=node-7');
  assert.equal(node.subjectAltName, 'URI:spiffe://example.org/agent/dc/dc1/node/node-7');
});

test('validity: notBefore one minute back for clock skew, default 72 h, and clamped to [1 h, 1 year]', async () => {
  const { csrPem } = await csrFor(serviceId('web'));
  const now = Math.floor(clock.wallNow() / 1000) * 1000;
  const def = await pki.signer.sign(csrPem, serviceId('web'));
  assert.equal(def.notBeforeMs, now - 60_000);
  assert.equal(def.notAfterMs - now, 72 * HOUR);
  const short = await pki.signer.sign(csrPem, serviceId('web'), 1000);
  assert.equal(short.notAfterMs - now, HOUR);
  const long = await pki.signer.sign(csrPem, serviceId('web'), 10 * 365 * 24 * HOUR);
  assert.equal(long.notAfterMs - now, 365 * 24 * HOUR);
  const asked = await pki.signer.sign(csrPem, serviceId('web'), 5 * HOUR);
  assert.equal(asked.notAfterMs - now, 5 * HOUR);
  assert.equal(clampTtlMs(Number.NaN, { minTtlMs: 1, maxTtlMs: 10, defaultTtlMs: 5 }), 5);
});

test('a leaf never outlives its intermediate', async () => {
  const short = await makePki(clock);
  const { createIntermediate } = await import('../src');
  const inter = await createIntermediate({ root: short.root, datacenter: 'dc1', trustDomain: 'example.org', validityMs: 2 * HOUR, clock });
  const signer = new LeafSigner({ intermediate: inter, chainPem: [inter.certPem], rootId: short.root.id, clock });
  const { csrPem } = await csrFor(serviceId('web'));
  const res = await signer.sign(csrPem, serviceId('web'));
  assert.equal(res.notAfterMs, Math.floor(certInfo(inter.certPem).notAfterMs / 1000) * 1000);
});

test('serials are random, positive and distinct', async () => {
  const { csrPem } = await csrFor(serviceId('web'));
  const serials = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const res = await pki.signer.sign(csrPem, serviceId('web'));
    const node = new NodeX509(res.certPem);
    assert.equal(node.serialNumber.toLowerCase(), res.serialHex);
    // The DER INTEGER is positive: its first content byte has the top bit clear (a 00 pad if needed).
    const der = node.raw;
    const cert = readTlv(der, 0, der.length, 'cert');
    const tbs = readTlv(der, cert.valueStart, cert.end, 'tbs');
    const version = readTlv(der, tbs.valueStart, tbs.end, 'version');
    const serial = readTlv(der, version.end, tbs.end, 'serial');
    assert.equal(der[serial.valueStart]! & 0x80, 0);
    assert.ok(serial.end - serial.valueStart <= 17);
    serials.add(res.serialHex);
  }
  assert.equal(serials.size, 200);
});

test('sign refuses a CSR for another identity than the one asked for', async () => {
  const { csrPem } = await csrFor(serviceId('web'));
  await assert.rejects(pki.signer.sign(csrPem, serviceId('db')), (err: unknown) => err instanceof CaError && err.code === CaErrorCode.csrInvalid && /expected spiffe:\/\/example.org\/ns\/default\/dc\/dc1\/svc\/db/.test(err.message));
});

test('the constructor refuses a key that is not the intermediate\'s, and a chain not starting with it', async () => {
  const other = await makePki(clock);
  assert.throws(() => new LeafSigner({ intermediate: { certPem: pki.intermediate.certPem, keyPem: other.intermediate.keyPem }, chainPem: [pki.intermediate.certPem], rootId: pki.root.id, clock }), /does not belong/);
  assert.throws(() => new LeafSigner({ intermediate: pki.intermediate, chainPem: [other.intermediate.certPem], rootId: pki.root.id, clock }), /must start with the intermediate/);
  assert.throws(() => new LeafSigner({ intermediate: pki.intermediate, chainPem: [pki.intermediate.certPem], rootId: pki.root.id, clock, minTtlMs: 10 * HOUR, defaultTtlMs: HOUR }), /minTtlMs <= defaultTtlMs/);
});
