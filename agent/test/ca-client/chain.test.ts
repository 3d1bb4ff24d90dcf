import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseChain } from '../../src/ca-client/chain';
import type { RotationPhase, RotationState } from '../../src/ca-client/rotation';
import type { BundleView } from '../../src/ca-client/trust-bundle';
import { handshake, leafFrom } from './tls';
import { DC, rotationPki, TD, type RotationPki } from './pki';

let pki: RotationPki;
let newLeaf: { certPem: string; keyPem: string };
test.before(async () => {
  pki = await rotationPki();
  newLeaf = await leafFrom(pki.newInt, pki.newRoot.id, { kind: 'service', trustDomain: TD, namespace: 'default', datacenter: DC, service: 'web' });
});

test('no single chain satisfies old-only and new-only verifiers (why chooseChain follows the phase)', async () => {
  const old = [pki.oldRoot.certPem];
  const neu = [pki.newRoot.certPem];
  const both = [...old, ...neu];
  const table: Array<[name: string, chain: string[], ca: string[], ok: boolean]> = [
    ['direct, old only', [pki.newInt.certPem], old, false],
    ['direct, new only', [pki.newInt.certPem], neu, true],
    ['direct, both', [pki.newInt.certPem], both, true],
    ['cross, old only', [pki.cross], old, true],
    ['cross, new only', [pki.cross], neu, false],
    ['cross, both', [pki.cross], both, true],
    ['direct then cross, old only', [pki.newInt.certPem, pki.cross], old, false],
    ['cross then direct, new only', [pki.cross, pki.newInt.certPem], neu, false],
    ['direct, old root plus the cross-signed copy as anchors', [pki.newInt.certPem], [...old, pki.cross], true],
  ];
  for (const [name, chain, ca, ok] of table) {
    const r = await handshake(newLeaf, chain, ca);
    assert.equal(r === 'ok', ok, `${name}: ${r}`);
  }
});

function view(phase: RotationPhase | undefined, roots: string[], active: string): BundleView {
  const rotations: RotationState[] = phase === undefined ? [] : [{
    id: pki.newRoot.id, datacenter: DC, oldRootId: pki.oldRoot.id, newRootId: pki.newRoot.id, intermediateId: pki.newInt.id, coordinator: 's1',
    reissueWindowMs: 1, dropGraceMs: 1, manual: false, startedAtMs: 0, phase, phaseSinceMs: 0,
  }];
  const int = (pem: string, ski: string, aki: string) => ({ datacenter: DC, pem, ski, aki, notBeforeMs: 0, notAfterMs: 1 });
  return {
    trustDomain: TD, index: 1, activeRootId: active, rotations,
    roots: roots.map((id) => ({ id, pem: '', active: id === active, subject: '', serialHex: '', notBeforeMs: 0, notAfterMs: 1 })),
    intermediates: [int(pki.oldInt.certPem, pki.oldInt.id, pki.oldRoot.id), int(pki.newInt.certPem, pki.newInt.id, pki.newRoot.id), int(pki.cross, pki.newInt.id, pki.oldRoot.id)],
  };
}

test('chooseChain: cross-signed copy until drop-old-root, the direct intermediate from then on', () => {
  const both = [pki.oldRoot.id, pki.newRoot.id];
  const table: Array<[phase: RotationPhase | undefined, roots: string[], active: string, aki: string, expect: string]> = [
    [undefined, [pki.oldRoot.id], pki.oldRoot.id, pki.oldInt.id, 'old'],
    ['switch-signers', both, pki.oldRoot.id, pki.newInt.id, 'cross'],
    ['reissue-leaves', both, pki.newRoot.id, pki.newInt.id, 'cross'],
    ['reissue-leaves', both, pki.newRoot.id, pki.oldInt.id, 'old'],
    ['drop-old-root', both, pki.newRoot.id, pki.newInt.id, 'direct'],
    ['done', [pki.newRoot.id], pki.newRoot.id, pki.newInt.id, 'direct'],
    ['done', [pki.newRoot.id], pki.newRoot.id, 'ffff', 'fallback'],
  ];
  const name = (pem: string | undefined): string =>
    pem === pki.cross ? 'cross' : pem === pki.newInt.certPem ? 'direct' : pem === pki.oldInt.certPem ? 'old' : pem === 'F' ? 'fallback' : String(pem);
  for (const [phase, roots, active, aki, expect] of table) {
    const chain = chooseChain(aki, view(phase, roots, active), DC, ['F']);
    assert.equal(chain.length, 1);
    assert.equal(name(chain[0]), expect, `${phase ?? 'no rotation'} / ${aki.slice(0, 6)}`);
  }
});
