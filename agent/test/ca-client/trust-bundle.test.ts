import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ACTIVE_KEY, decodeBundleMessage, encodeBundleMessage, BundleCodecError, rootKey, intermediateKey } from '../../src/ca-client/bundle-record';
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
