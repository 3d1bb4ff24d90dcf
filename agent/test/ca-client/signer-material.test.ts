import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSigner, firstCert, allCerts, signerMaterial, type SignerMaterial } from '../../src/ca-client/signer-material';
import { rotationPki, type RotationPki } from './pki';

const m = (id: string, rootId: string, notBeforeMs: number, notAfterMs: number): SignerMaterial =>
  ({ certPem: '', keyPem: '', chainPem: [], rootId, intermediateId: id, notBeforeMs, notAfterMs });

test('chooseSigner: material under a bundle root, the active one first, then the newest; never expired', () => {
  const cfg = m('cfg', 'OLD', 0, 1000);
  const rotated = m('rot', 'NEW', 100, 2000);
  const table: Array<[candidates: SignerMaterial[], roots: string[], active: string, now: number, expect: string | undefined]> = [
    [[cfg, rotated], ['OLD', 'NEW'], 'NEW', 500, 'rot'],
    [[cfg, rotated], ['OLD', 'NEW'], 'OLD', 500, 'cfg'],
    [[cfg, rotated], ['NEW'], 'NEW', 500, 'rot'],
    [[cfg, rotated], ['OLD'], 'OLD', 500, 'cfg'],
    [[cfg, rotated], [], '', 500, 'rot'],
    [[cfg, rotated], ['OLD', 'NEW'], 'OLD', 1500, 'rot'],
    [[cfg], ['NEW'], 'NEW', 500, 'cfg'],
    [[cfg], ['OLD'], 'OLD', 1500, undefined],
  ];
  for (const [cands, roots, active, now, expect] of table) {
    assert.equal(chooseSigner(cands, roots, active, now)?.intermediateId, expect, `${roots}/${active}@${now}`);
  }
});

let pki: RotationPki;
test.before(async () => {
  pki = await rotationPki();
});

test('signerMaterial reads the ids, keeps the chain order and refuses a root', () => {
  const s = signerMaterial({ certPem: pki.newInt.certPem + pki.cross, keyPem: pki.newInt.keyPem }, [pki.cross]);
  assert.equal(s.intermediateId, pki.newInt.id);
  assert.equal(s.rootId, pki.newRoot.id);
  assert.deepEqual(s.chainPem.map((p) => p.trim()), [pki.newInt.certPem.trim(), pki.cross.trim()]);
  assert.throws(() => signerMaterial({ certPem: pki.newRoot.certPem, keyPem: pki.newRoot.keyPem }), /no authority key identifier/);
  assert.equal(allCerts(pki.newInt.certPem + pki.cross).length, 2);
  assert.equal(firstCert(`junk\n${pki.cross}`).trim(), pki.cross.trim());
});
