import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotationKey } from '../../src/ca-client/bundle-record';
import { startRotation, type RotationState } from '../../src/ca-client/rotation';
import { ROTATION_FILE, RotationCoordinator } from '../../src/ca-client/rotation-coordinator';
import type { CaServerRole } from '../../src/ca-client/server-role';
import { TrustBundleStore } from '../../src/ca-client/trust-bundle';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { FakeNet, settle } from './fake-mux';
import { TD } from './pki';

const state = (coordinator: string, term: number): RotationState => ({
  ...startRotation({
    id: 'bb'.repeat(20), datacenter: 'dc1', oldRootId: 'aa'.repeat(20), newRootId: 'bb'.repeat(20), intermediateId: 'cc'.repeat(20), coordinator,
    reissueWindowMs: 30_000, dropGraceMs: 60_000, manual: true, startedAtMs: 0,
  }),
  term,
});

test('a coordinator restarted after a takeover stands down before acting, and its stale record loses everywhere', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-coord-'));
  try {
    const clock = new VirtualClock(1_000_000);
    const net = new FakeNet();
    const stores = ['s0', 's1'].map((n) => {
      const s = new TrustBundleStore({ nodeName: n, trustDomain: TD, clock, logger: noopLogger });
      const j = net.join(n);
      s.attach(j.mux, j.membership);
      return s;
    });
    const [s0, s1] = stores as [TrustBundleStore, TrustBundleStore];
    // s0 coordinated (term 0), was killed; s1 took over (term 1). s0 comes back with its rotation file and a stale bundle.
    s0.write(rotationKey('dc1'), { type: 'rotation', state: state('s0', 0) });
    await settle();
    net.down.add('s0');
    clock.advance(10);
    assert.ok(s1.write(rotationKey('dc1'), { type: 'rotation', state: state('s1', 1) }));
    mkdirSync(join(dir, 'ca'));
    writeFileSync(join(dir, ROTATION_FILE), JSON.stringify({ state: state('s0', 0) }));
    const server = { stage: () => {}, current: { intermediateId: 'dd'.repeat(20) }, staged: undefined } as unknown as CaServerRole;
    const coord = new RotationCoordinator({
      nodeName: 's0', datacenter: 'dc1', trustDomain: TD, dataDir: dir, bundle: s0, server, members: () => [], leavesEstimate: () => 1, ratePerSec: 50,
      clock, logger: noopLogger, tickMs: 500, resumeDelayMs: 5_000,
    });
    await coord.start();
    assert.equal(coord.current?.coordinator, 's0', 'resumes from its file...');
    net.down.clear();
    net.pushPull('s0', 's1');
    await settle();
    assert.equal(s0.rotation('dc1')?.coordinator, 's1', '...while its join brings the successor\'s record');
    clock.advance(5_000);
    await coord.tick(); // joins the tick the timer started (file removal included)
    assert.equal(coord.current, undefined, 'stood down at its first tick');
    assert.equal(existsSync(join(dir, ROTATION_FILE)), false, 'and will not resume it again');
    assert.equal(s0.write(rotationKey('dc1'), { type: 'rotation', state: { ...state('s0', 0), phase: 'confirm-trust' } }), false, 'an older term is never written');
    // A late write of the old term from a peer that still held it loses on arrival, however new its stamp.
    const late = { key: rotationKey('dc1'), value: { type: 'rotation', state: { ...state('s0', 0), phase: 'done' } }, hlc: { wallMs: clock.wallNow() + 1000, counter: 0 }, node: 's0' };
    await s1.handleRequest((await import('../../src/ca-client/bundle-record')).encodeBundleMessage({ t: 'push', records: [late as never] }));
    assert.equal(s1.rotation('dc1')?.coordinator, 's1');
    assert.equal(s1.rotation('dc1')?.term, 1);
    coord.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
