import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { certInfo, createIntermediate } from '../../../ca/src';
import { ACTIVE_KEY, decodeBundleMessage, encodeBundleMessage, BundleCodecError, rootKey, intermediateKey } from '../../src/ca-client/bundle-record';
import type { RotationState } from '../../src/ca-client/rotation';
import { oldRootDrops } from '../../src/ca-client/rotation-coordinator';
import { TrustBundleStore, BUNDLE_FILE } from '../../src/ca-client/trust-bundle';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { FakeNet, settle } from './fake-mux';
import { rotationPki, TD, type RotationPki } from './pki';

let pki: RotationPki;
test.before(async () => {
  pki = await rotationPki();
});

function store(net: FakeNet, name: string, clock: VirtualClock, dataDir?: string): TrustBundleStore {
  const s = new TrustBundleStore({ nodeName: name, trustDomain: TD, dataDir, clock, logger: noopLogger });
  const j = net.join(name);
  s.attach(j.mux, j.membership);
  return s;
}

test('a write spreads by broadcast and fetch; the view lists roots (active first) and intermediates', async () => {
  const clock = new VirtualClock();
  const net = new FakeNet();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => store(net, n, clock));
  a!.putRoot(pki.oldRoot.id, pki.oldRoot.certPem);
  a!.putRoot(pki.newRoot.id, pki.newRoot.certPem);
  a!.write(ACTIVE_KEY, { type: 'active', rootId: pki.newRoot.id });
  a!.putIntermediate('dc1', pki.cross);
  await settle();
  for (const s of [b!, c!]) {
    const v = s.view();
    assert.deepEqual(v.roots.map((r) => [r.id, r.active]), [[pki.newRoot.id, true], [pki.oldRoot.id, false]]);
    assert.equal(v.intermediates[0]!.aki, pki.oldRoot.id);
    assert.equal(v.intermediates[0]!.ski, pki.newInt.id);
    assert.equal(s.trustBundle().intermediates['dc1']!.length, 1);
  }
  assert.ok(b!.index() > 1);
});

test('last writer wins everywhere; a tombstone beats config seeds, which never resurrect a dropped root', async () => {
  const clock = new VirtualClock();
  const net = new FakeNet();
  const a = store(net, 'a', clock);
  const b = store(net, 'b', clock);
  const seeds = [{ key: rootKey(pki.oldRoot.id), value: { type: 'root' as const, pem: pki.oldRoot.certPem } }, { key: ACTIVE_KEY, value: { type: 'active' as const, rootId: pki.oldRoot.id } }];
  a.seed(seeds);
  b.seed(seeds);
  net.down.add('b');
  a.write(ACTIVE_KEY, { type: 'active', rootId: pki.newRoot.id });
  clock.advance(5);
  b.write(ACTIVE_KEY, { type: 'active', rootId: pki.oldRoot.id === pki.newRoot.id ? '00' : 'ab'.repeat(20) });
  a.write(rootKey(pki.oldRoot.id), null);
  await settle();
  net.down.clear();
  net.pushPull('a', 'b');
  await settle();
  assert.equal(a.view().activeRootId, 'ab'.repeat(20), 'the later write (b) wins on a');
  assert.equal(b.view().activeRootId, 'ab'.repeat(20));
  assert.deepEqual(b.rootIds(), [], 'the tombstone reached b');
  b.seed(seeds);
  assert.deepEqual(b.rootIds(), [], 'a seed does not bring a dropped root back');
  const late = store(net, 'late', clock);
  late.seed(seeds);
  assert.deepEqual(late.rootIds(), [pki.oldRoot.id], 'a new member starts from its configured root');
  net.pushPull('late', 'a');
  await settle();
  assert.deepEqual(late.rootIds(), [], 'and learns the drop at its first push-pull');
});

test('the bundle persists (0600, atomic) and a restarted store serves it at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bundle-'));
  try {
    const clock = new VirtualClock();
    const a = store(new FakeNet(), 'a', clock, dir);
    a.putRoot(pki.oldRoot.id, pki.oldRoot.certPem);
    a.write(ACTIVE_KEY, { type: 'active', rootId: pki.oldRoot.id });
    await a.close();
    assert.equal(statSync(join(dir, BUNDLE_FILE)).mode & 0o777, 0o600);
    const again = new TrustBundleStore({ nodeName: 'a', trustDomain: TD, dataDir: dir, clock, logger: noopLogger });
    await again.load();
    assert.deepEqual(again.rootIds(), [pki.oldRoot.id]);
    assert.equal(again.view().activeRootId, pki.oldRoot.id);
    writeFileSync(join(dir, BUNDLE_FILE), '{"records": [');
    const corrupt = new TrustBundleStore({ nodeName: 'a', trustDomain: TD, dataDir: dir, clock, logger: noopLogger });
    await corrupt.load();
    assert.deepEqual(corrupt.rootIds(), [], 'a corrupt file is set aside, not fatal');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('records whose certificate does not match their key are refused and counted', async () => {
  const clock = new VirtualClock();
  const net = new FakeNet();
  const b = store(net, 'b', clock);
  const forged = { key: rootKey(pki.newRoot.id), value: { type: 'root', pem: pki.oldRoot.certPem }, hlc: { wallMs: 1, counter: 0 }, node: 'x' };
  const notCa = { key: intermediateKey('dc1', 'ab', 'cd'), value: { type: 'intermediate', datacenter: 'dc1', pem: pki.newInt.certPem }, hlc: { wallMs: 1, counter: 0 }, node: 'x' };
  await b.handleRequest(encodeBundleMessage({ t: 'push', records: [forged as never, notCa as never] }));
  assert.deepEqual(b.rootIds(), []);
  assert.equal(b.dropped.cert, 2);
});

test('any bytes from a peer are refused without throwing (property)', async () => {
  const clock = new VirtualClock();
  const b = store(new FakeNet(), 'b', clock);
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
    b.onBroadcast(bytes);
    b.mergeRemoteState(bytes);
    await b.handleRequest(bytes);
  }), { numRuns: 300 });
  await fc.assert(fc.asyncProperty(fc.anything(), async (v) => {
    const bytes = encodeBundleMessage(v as never);
    try {
      decodeBundleMessage(bytes);
    } catch (err) {
      assert.ok(err instanceof BundleCodecError, String(err));
    }
    await b.handleRequest(bytes);
  }), { numRuns: 300 });
  assert.deepEqual(b.rootIds(), []);
});

// ---- across clusters (WAN) ----

/** Two clusters: a server and a client each, on their own LAN nets; the servers also share a WAN net. */
async function twoClusters(clock: VirtualClock) {
  const dc2Int = await createIntermediate({ root: pki.oldRoot, datacenter: 'dc2', trustDomain: TD, clock });
  const lan1 = new FakeNet();
  const lan2 = new FakeNet();
  const wan = new FakeNet();
  const s1 = store(lan1, 's1', clock);
  const c1 = store(lan1, 'c1', clock);
  const s2 = store(lan2, 's2', clock);
  const c2 = store(lan2, 'c2', clock);
  const w1 = wan.join('s1.dc1');
  const w2 = wan.join('s2.dc2');
  s1.attachWan(w1.mux, w1.membership);
  s2.attachWan(w2.mux, w2.membership);
  // What prepare() seeds: the configured root (active) everywhere, each server its own intermediate.
  const root = [{ key: rootKey(pki.oldRoot.id), value: { type: 'root' as const, pem: pki.oldRoot.certPem } }, { key: ACTIVE_KEY, value: { type: 'active' as const, rootId: pki.oldRoot.id } }];
  for (const s of [s1, c1, s2, c2]) s.seed(root);
  const int = (dc: string, pem: string) => ({ key: intermediateKey(dc, certInfo(pem).skiHex, certInfo(pem).akiHex), value: { type: 'intermediate' as const, datacenter: dc, pem } });
  s1.seed([int('dc1', pki.oldInt.certPem)]);
  s2.seed([int('dc2', dc2Int.certPem)]);
  return { s1, c1, s2, c2, lan1, lan2, wan, dc2Int };
}

test('servers share every cluster intermediate over the WAN pool; each client learns the other cluster from its own server', async () => {
  const clock = new VirtualClock();
  const { s1, c1, s2, c2, lan1, lan2, wan, dc2Int } = await twoClusters(clock);
  // Joining: LAN push-pulls inside each cluster, then the servers' WAN push-pull.
  lan1.pushPull('c1', 's1');
  lan2.pushPull('c2', 's2');
  wan.pushPull('s1.dc1', 's2.dc2');
  await settle();
  for (const [name, s] of [['s1', s1], ['c1', c1], ['s2', s2], ['c2', c2]] as const) {
    assert.deepEqual(Object.keys(s.trustBundle().intermediates).sort(), ['dc1', 'dc2'], `${name} holds both clusters' intermediates`);
  }
  // dc1's intermediate in dc2's client chains to the shared root: a dc1 leaf verifies against dc2's bundle.
  const dc1InC2 = c2.view().intermediates.find((i) => i.datacenter === 'dc1')!;
  assert.ok(new X509Certificate(dc1InC2.pem).verify(new X509Certificate(c2.rootPems()[0]!).publicKey));
  assert.equal(c1.view().intermediates.find((i) => i.datacenter === 'dc2')!.pem, dc2Int.certPem);

  // A later change (dc1 publishes a new root and intermediates for its rotation) spreads by broadcast alone.
  const wanBroadcasts = wan.broadcasts;
  s1.putRoot(pki.newRoot.id, pki.newRoot.certPem);
  s1.putIntermediate('dc1', pki.newInt.certPem);
  await settle();
  assert.ok(wan.broadcasts > wanBroadcasts, 'announced on the WAN pool');
  assert.ok(c2.rootIds().includes(pki.newRoot.id), 'dc2 client trusts dc1\'s new root');
  assert.ok(c2.view().intermediates.some((i) => i.ski === pki.newInt.id), 'and holds dc1\'s new intermediate');
});

test('the active root and rotation state stay in their cluster; a peer pushing them over the WAN pool is refused', async () => {
  const clock = new VirtualClock();
  const { s1, c1, s2, c2, lan1, lan2, wan } = await twoClusters(clock);
  lan1.pushPull('c1', 's1');
  lan2.pushPull('c2', 's2');
  wan.pushPull('s1.dc1', 's2.dc2');
  await settle();
  s1.putRoot(pki.newRoot.id, pki.newRoot.certPem);
  s1.write(ACTIVE_KEY, { type: 'active', rootId: pki.newRoot.id });
  clock.advance(10);
  wan.pushPull('s1.dc1', 's2.dc2');
  await settle();
  assert.equal(c1.view().activeRootId, pki.newRoot.id, 'dc1 switched');
  assert.equal(s2.view().activeRootId, pki.oldRoot.id, 'dc2 did not: its own rotation decides');
  assert.equal(c2.view().activeRootId, pki.oldRoot.id);
  assert.ok(c2.rootIds().includes(pki.newRoot.id), 'but dc2 trusts the new root');
  const dropped = s2.dropped.shape;
  const forged = { key: ACTIVE_KEY, value: { type: 'active', rootId: pki.newRoot.id }, hlc: { wallMs: clock.wallNow() + 1, counter: 0 }, node: 's1' };
  const wanChannel = wan.channels.get('s2.dc2')!;
  await wanChannel.handleRequest!(encodeBundleMessage({ t: 'push', records: [forged as never] }));
  assert.equal(s2.view().activeRootId, pki.oldRoot.id);
  assert.equal(s2.dropped.shape, dropped + 1, 'counted');
  const got = decodeBundleMessage((await wanChannel.handleRequest!(encodeBundleMessage({ t: 'get', keys: [ACTIVE_KEY, rootKey(pki.oldRoot.id)] })))!);
  assert.deepEqual(got.t === 'records' ? got.records.map((r) => r.key) : [], [rootKey(pki.oldRoot.id)], 'a WAN peer gets shared keys only');
});

test('step 5 drops only its own cluster\'s intermediates, and the old root only when no other cluster still chains to it', async () => {
  const clock = new VirtualClock();
  const { s1, dc2Int } = await twoClusters(clock);
  s1.putRoot(pki.newRoot.id, pki.newRoot.certPem);
  s1.putIntermediate('dc1', pki.newInt.certPem);
  s1.putIntermediate('dc1', pki.cross);
  s1.putIntermediate('dc2', dc2Int.certPem);
  const st = { id: pki.newRoot.id, datacenter: 'dc1', oldRootId: pki.oldRoot.id, newRootId: pki.newRoot.id } as RotationState;
  const key = (dc: string, pem: string): string => intermediateKey(dc, certInfo(pem).skiHex, certInfo(pem).akiHex);
  const now = clock.wallNow();
  assert.deepEqual(oldRootDrops(s1.view(), st, now).sort(), [key('dc1', pki.oldInt.certPem), key('dc1', pki.cross)].sort(), 'dc2 still signs under the old root: it stays');
  assert.ok(oldRootDrops(s1.view(), st, certInfo(dc2Int.certPem).notAfterMs + 1).includes(rootKey(pki.oldRoot.id)), 'an expired intermediate of dc2 does not hold it');
  s1.write(key('dc2', dc2Int.certPem), null);
  assert.ok(oldRootDrops(s1.view(), st, now).includes(rootKey(pki.oldRoot.id)), 'once dc2 rotated too, the last step 5 drops the root');
  assert.ok(!oldRootDrops(s1.view(), st, now).includes(key('dc1', pki.newInt.certPem)));
});
