import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock, VirtualClock } from '../../agent/src/core/clock';
import { certInfo, createIntermediate, createRoot, crossSign, verificationCas, importKeyPem, keyIdOf, LeafSigner, CaError, CaLocalErrorCode } from '../src';
import { csrFor, DC, makePki, openssl, opensslVerify, serviceId, TD, tempDir, writePems } from './helpers';

const tmp = tempDir();
after(() => tmp.cleanup());
const YEAR = 365 * 24 * 3_600_000;

test('a root is CA:TRUE pathlen 1, keyCertSign + cRLSign, SKI = its id, URI SAN spiffe://<td>, 10 years', async () => {
  const clock = new VirtualClock(0);
  const root = await createRoot({ trustDomain: TD, clock });
  const info = certInfo(root.certPem);
  assert.equal(info.isCa, true);
  assert.equal(info.pathLength, 1);
  assert.equal(info.skiHex, root.id);
  assert.equal(info.skiHex, await keyIdOf((await importKeyPem(root.keyPem)).publicKey));
  assert.deepEqual(info.uriSans, ['spiffe://example.org']);
  assert.equal(info.subject, `CN=Shoal Root CA example.org ${root.id.slice(0, 8)}`);
  assert.equal(info.subject, info.issuer);
  assert.equal(info.notAfterMs - info.notBeforeMs, 10 * YEAR + 60_000);
  const p = writePems(tmp.dir, { 'root.pem': root.certPem });
  const text = openssl(['x509', '-noout', '-text', '-in', p['root.pem']!]).stdout;
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
  assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(text, /ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
  // Self-signed and valid by itself.
  assert.ok(opensslVerify(tmp.dir, root.certPem, [], root.certPem, clock.wallNow()).ok);
});

test('an intermediate is CA:TRUE pathlen 0 with AKI = the root\'s SKI, 1 year by default, and verifies', async () => {
  const clock = new VirtualClock(0);
  const root = await createRoot({ trustDomain: TD, clock });
  const inter = await createIntermediate({ root, datacenter: DC, trustDomain: TD, clock });
  const info = certInfo(inter.certPem);
  assert.equal(info.isCa, true);
  assert.equal(info.pathLength, 0);
  assert.equal(info.akiHex, root.id);
  assert.equal(info.skiHex, inter.id);
  assert.deepEqual(info.uriSans, ['spiffe://example.org']);
  assert.equal(info.issuer, certInfo(root.certPem).subject);
  assert.equal(info.notAfterMs - info.notBeforeMs, YEAR + 60_000);
  assert.ok(opensslVerify(tmp.dir, root.certPem, [], inter.certPem, clock.wallNow()).ok);
});

test('an intermediate cannot outlive its root, and must match the root\'s trust domain and key', async () => {
  const clock = new VirtualClock(0);
  const root = await createRoot({ trustDomain: TD, clock, validityMs: 30 * 24 * 3_600_000 });
  const inter = await createIntermediate({ root, datacenter: DC, trustDomain: TD, clock });
  assert.equal(certInfo(inter.certPem).notAfterMs, certInfo(root.certPem).notAfterMs);
  await assert.rejects(createIntermediate({ root, datacenter: DC, trustDomain: 'other.org', clock }), /trust domain example.org, not other.org/);
  const other = await createRoot({ trustDomain: TD, clock });
  await assert.rejects(
    createIntermediate({ root: { certPem: root.certPem, keyPem: other.keyPem }, datacenter: DC, trustDomain: TD, clock }),
    (e: unknown) => e instanceof CaError && e.code === CaLocalErrorCode.material && /root key does not belong to the root certificate/.test(e.message),
  );
  await assert.rejects(createIntermediate({ root, datacenter: 'bad/dc', trustDomain: TD, clock }), /datacenter/);
});

test('rotation: a leaf from the new intermediate verifies with only the old root via the cross-signed intermediate', async () => {
  const clock = systemClock;
  const oldRoot = await createRoot({ trustDomain: TD, clock });
  const newRoot = await createRoot({ trustDomain: TD, clock });
  const newInter = await createIntermediate({ root: newRoot, datacenter: DC, trustDomain: TD, clock });
  const cross = await crossSign({ certPem: newInter.certPem, signer: oldRoot, clock });
  const ci = certInfo(cross);
  assert.equal(ci.subject, certInfo(newInter.certPem).subject);
  assert.equal(ci.skiHex, newInter.id);
  assert.equal(ci.akiHex, oldRoot.id);
  assert.equal(ci.issuer, certInfo(oldRoot.certPem).subject);
  assert.equal(ci.pathLength, 0);

  const signer = new LeafSigner({ intermediate: newInter, chainPem: [newInter.certPem, cross], rootId: newRoot.id, clock });
  const { csrPem } = await csrFor(serviceId('web'));
  const leaf = await signer.sign(csrPem, serviceId('web'));
  // The peer that still trusts only the old root, given the cross-signed certificate as untrusted.
  const viaOld = opensslVerify(tmp.dir, oldRoot.certPem, [cross], leaf.certPem);
  assert.ok(viaOld.ok, viaOld.out);
  // A peer that already trusts the new root.
  assert.ok(opensslVerify(tmp.dir, newRoot.certPem, [newInter.certPem], leaf.certPem).ok);
  // Without the cross-signed certificate the old root alone does not accept it.
  assert.ok(!opensslVerify(tmp.dir, oldRoot.certPem, [newInter.certPem], leaf.certPem).ok);

  // OpenSSL takes the first candidate issuer and does not backtrack: with only the old root trusted,
  // the full chain [new intermediate, cross-signed] fails as presented...
  assert.ok(!opensslVerify(tmp.dir, oldRoot.certPem, leaf.chainPem, leaf.certPem).ok);
  // ...so peers verify with verificationCas: their roots plus what those roots issued.
  const bundle = [newInter.certPem, cross];
  const oldOnly = verificationCas([oldRoot.certPem], bundle);
  assert.deepEqual(oldOnly, [oldRoot.certPem, cross]);
  assert.ok(opensslVerify(tmp.dir, oldOnly.join(''), leaf.chainPem, leaf.certPem).ok, 'old-root peer, filtered store');
  const newOnly = verificationCas([newRoot.certPem], bundle);
  assert.deepEqual(newOnly, [newRoot.certPem, newInter.certPem]);
  assert.ok(opensslVerify(tmp.dir, newOnly.join(''), leaf.chainPem, leaf.certPem).ok, 'new-root peer, filtered store');
  const both = verificationCas([oldRoot.certPem, newRoot.certPem], bundle);
  assert.ok(opensslVerify(tmp.dir, both.join(''), leaf.chainPem, leaf.certPem).ok, 'peer trusting both roots');
  assert.ok(opensslVerify(tmp.dir, both.reverse().join(''), leaf.chainPem, leaf.certPem).ok, 'either order with both roots');
});

test('cross-signing the new root itself exceeds the old root\'s pathlen 1 (why intermediates are cross-signed)', async () => {
  const clock = systemClock;
  const oldRoot = await createRoot({ trustDomain: TD, clock });
  const newRoot = await createRoot({ trustDomain: TD, clock });
  const newInter = await createIntermediate({ root: newRoot, datacenter: DC, trustDomain: TD, clock });
  const crossRoot = await crossSign({ certPem: newRoot.certPem, signer: oldRoot, clock });
  const signer = new LeafSigner({ intermediate: newInter, chainPem: [newInter.certPem], rootId: newRoot.id, clock });
  const { csrPem } = await csrFor(serviceId('web'));
  const leaf = await signer.sign(csrPem, serviceId('web'));
  const v = opensslVerify(tmp.dir, oldRoot.certPem, [newInter.certPem, crossRoot], leaf.certPem);
  assert.ok(!v.ok);
  assert.match(v.out, /path length constraint exceeded/);
});

test('crossSign refuses leaves and other trust domains', async () => {
  const clock = systemClock;
  const pki = await makePki(clock);
  const { csrPem } = await csrFor(serviceId('web'));
  const leaf = await pki.signer.sign(csrPem, serviceId('web'));
  await assert.rejects(crossSign({ certPem: leaf.certPem, signer: pki.root, clock }), /only CA certificates/);
  const foreign = await createRoot({ trustDomain: 'other.org', clock });
  await assert.rejects(crossSign({ certPem: pki.intermediate.certPem, signer: foreign, clock }), /across trust domains/);
});

test('createRoot refuses an invalid trust domain', async () => {
  await assert.rejects(createRoot({ trustDomain: 'Example.org', clock: systemClock }), /lower-case/);
  await assert.rejects(createRoot({ trustDomain: '', clock: systemClock }), /1 to 255/);
});

test('a very long trust domain still yields a common name within 64 characters', async () => {
  const td = `${'a'.repeat(100)}.example.org`;
  const root = await createRoot({ trustDomain: td, clock: systemClock });
  const cn = certInfo(root.certPem).subject.replace(/^CN=/, '');
  assert.ok(cn.length <= 64, cn);
  assert.ok(cn.endsWith(root.id.slice(0, 8)));
});
