import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { openKey, sealKey, verifyChain } from '../../src/ca-client/intermediate-transfer';
import { leafFrom } from './tls';
import { DC, rotationPki, TD, type RotationPki } from './pki';

let pki: RotationPki;
let agent: { certPem: string; keyPem: string };
let other: { certPem: string; keyPem: string };
const agentId = { kind: 'agent' as const, trustDomain: TD, datacenter: DC, node: 's2' };
test.before(async () => {
  pki = await rotationPki();
  agent = await leafFrom(pki.oldInt, pki.oldRoot.id, agentId);
  other = await leafFrom(pki.oldInt, pki.oldRoot.id, { ...agentId, node: 's3' });
});

test('a sealed key opens only with the recipient agent key, and tampering is detected', () => {
  const sealed = sealKey(pki.newInt.keyPem, agent.certPem);
  assert.ok(!sealed.includes('PRIVATE'), 'nothing readable travels');
  const opened = openKey(sealed, agent.keyPem);
  assert.equal(createPrivateKey(opened).export({ format: 'pem', type: 'pkcs8' }), createPrivateKey(pki.newInt.keyPem).export({ format: 'pem', type: 'pkcs8' }));
  assert.throws(() => openKey(sealed, other.keyPem));
  const doc = JSON.parse(Buffer.from(sealed, 'base64').toString()) as Record<string, string>;
  doc['c'] = Buffer.from('x'.repeat(40)).toString('base64');
  assert.throws(() => openKey(Buffer.from(JSON.stringify(doc)).toString('base64'), agent.keyPem));
});

test('verifyChain accepts an agent leaf that chains to a bundle root and names the SPIFFE ID', () => {
  const now = Date.parse(new Date().toISOString());
  const uris = verifyChain(agent.certPem, [], [pki.oldInt.certPem], [pki.oldRoot.certPem], now);
  assert.deepEqual(uris, [`spiffe://${TD}/agent/dc/${DC}/node/s2`]);
  assert.deepEqual(verifyChain(agent.certPem, [pki.oldInt.certPem], [], [pki.oldRoot.certPem], now).length, 1, 'the chain may come with the request');
  assert.throws(() => verifyChain(agent.certPem, [], [pki.oldInt.certPem], [pki.newRoot.certPem], now), /does not chain/);
  assert.throws(() => verifyChain(agent.certPem, [], [pki.newInt.certPem], [pki.oldRoot.certPem], now), /does not chain/);
  assert.throws(() => verifyChain(agent.certPem, [], [pki.oldInt.certPem], [pki.oldRoot.certPem], now + 400 * 86_400_000), /expired/);
  assert.throws(() => verifyChain(pki.oldInt.certPem, [], [], [pki.oldRoot.certPem], now), /CA, not a leaf/);
});
