import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  electCoordinator, gateBlockers, requestAdvance, reissueWindowMs, startRotation, stepRotation, type MemberCaView, type RotationObservation, type RotationState,
} from '../../src/ca-client/rotation';
import { VirtualClock } from '../../src/core/clock';

// Tags carry 16-hex-character root ids; ids of that length are their own tag id (full ids: see the last test).
const OLD = 'aa'.repeat(8);
const NEW = 'bb'.repeat(8);

function plan(manual = false, startedAtMs = 0): RotationState {
  return startRotation({
    id: NEW, datacenter: 'dc1', oldRootId: OLD, newRootId: NEW, intermediateId: 'cc'.repeat(20), coordinator: 's1',
    reissueWindowMs: 30_000, dropGraceMs: 60_000, manual, startedAtMs,
  });
}

/** A member with sensible defaults: trusts the old root, leaves and signer under it. */
function m(name: string, o: Partial<MemberCaView> = {}): MemberCaView {
  return { name, live: true, server: name.startsWith('s'), datacenter: 'dc1', participates: true, trust: [OLD], leaves: OLD, signerRoot: name.startsWith('s') ? OLD : '', ...o };
}

test('a rotation walks the five steps as the cluster confirms each one, on a virtual clock', () => {
  const clock = new VirtualClock();
  let members = [m('s1'), m('s2'), m('c1'), m('c2', { live: false, trust: [] }), m('x', { participates: false, trust: [] })];
  let bundleHasNewRoot = false;
  const obs = (): RotationObservation => ({ nowMs: clock.now(), members, bundleHasNewRoot });
  let st = plan(false, clock.now());
  const trace: string[] = [];
  const tick = (): string[] => {
    const step = stepRotation(st, obs());
    st = step.state;
    trace.push(`${st.phase}${step.advanced ? '*' : ''}`);
    return step.actions;
  };

  assert.deepEqual(tick(), ['publish-root'], 'phase 1 publishes the root first');
  assert.equal(st.phase, 'publish');
  bundleHasNewRoot = true;
  assert.deepEqual(tick(), ['publish-root']);
  assert.equal(st.phase, 'confirm-trust');
  clock.advance(1000);
  tick();
  assert.equal(st.phase, 'confirm-trust', 'nobody trusts the new root yet');
  members = members.map((x) => (x.participates && x.live ? { ...x, trust: [OLD, NEW] } : x));
  assert.deepEqual(tick(), ['publish-root', 'stage-intermediate'], 'a dead member and one without CA do not block');
  assert.equal(st.phase, 'switch-signers');
  members = members.map((x) => (x.name === 's1' ? { ...x, signerRoot: NEW } : x));
  tick();
  assert.equal(st.phase, 'switch-signers', 's2 still signs under the old root');
  members = members.map((x) => (x.server ? { ...x, signerRoot: NEW } : x));
  assert.deepEqual(tick(), ['publish-root', 'stage-intermediate', 'activate-root']);
  assert.equal(st.phase, 'reissue-leaves');
  members = members.map((x) => (x.name === 'c1' ? { ...x, leaves: '' } : x.live ? { ...x, leaves: NEW } : x));
  tick();
  assert.equal(st.phase, 'reissue-leaves', 'c1 holds leaves under both roots');
  members = members.map((x) => (x.live ? { ...x, leaves: NEW } : x));
  tick();
  assert.equal(st.phase, 'drop-old-root');
  const enteredDrop = clock.now();
  clock.advance(59_000);
  tick();
  assert.equal(st.phase, 'drop-old-root', 'grace period not over');
  assert.match(gateBlockers(st, obs())[0]!.reason, /grace period: 1 s left/);
  clock.advance(1000);
  assert.deepEqual(tick(), ['stage-intermediate', 'activate-root', 'drop-old-root']);
  assert.equal(st.phase, 'done');
  assert.equal(st.finishedAtMs, enteredDrop + 60_000);
  assert.deepEqual(tick(), ['stage-intermediate', 'activate-root', 'drop-old-root'], 'done keeps ensuring its end state');
  assert.deepEqual(trace, [
    'publish', 'confirm-trust*', 'confirm-trust', 'switch-signers*', 'switch-signers', 'reissue-leaves*', 'reissue-leaves', 'drop-old-root*',
    'drop-old-root', 'done*', 'done',
  ]);
});

test('gates name every member that blocks them and why', () => {
  const st = { ...plan(), phase: 'reissue-leaves' as const };
  const members = [
    m('s1', { trust: [OLD, NEW], signerRoot: NEW, leaves: NEW }),
    m('s2', { trust: [OLD], signerRoot: OLD, leaves: OLD, live: true }),
    m('c1', { trust: [OLD, NEW], leaves: '' }),
    m('c9', { trust: [OLD], live: false }),
    m('s9', { datacenter: 'dc2', trust: [OLD, NEW], leaves: NEW, signerRoot: OLD }),
  ];
  const blockers = gateBlockers(st, { nowMs: 0, members, bundleHasNewRoot: true });
  assert.deepEqual(blockers.map((b) => b.member), ['s2', 's2', 's2', 'c1']);
  assert.match(blockers[0]!.reason, /does not trust the new root bbbbbbbbbbbbbbbb yet \(ca_trust: aaaaaaaaaaaaaaaa\)/);
  assert.match(blockers[1]!.reason, /server still signs under root aaaa/);
  assert.match(blockers[3]!.reason, /no single root/);
});

test('a suspect member still has to confirm: only failed and left members are not waited for', () => {
  const st = { ...plan(), phase: 'confirm-trust' as const };
  const suspect = m('c1', { live: true });
  assert.equal(gateBlockers(st, { nowMs: 0, members: [suspect], bundleHasNewRoot: true }).length, 1);
});

test('manual mode waits for the operator, and refuses an unsafe step with the reason', () => {
  let st = plan(true);
  const obs = (members: MemberCaView[]): RotationObservation => ({ nowMs: 0, members, bundleHasNewRoot: true });
  assert.equal(stepRotation(st, obs([])).advanced, false, 'no automatic advance');
  const r1 = requestAdvance(st, obs([]));
  assert.equal(r1.refused, undefined);
  st = r1.state;
  assert.equal(st.phase, 'confirm-trust');
  const r2 = requestAdvance(st, obs([m('c1'), m('s1', { trust: [OLD, NEW] })]));
  assert.match(r2.refused!, /cannot leave phase confirm-trust: c1: does not trust the new root/);
  assert.equal(r2.state.phase, 'confirm-trust');
  const r3 = requestAdvance(st, obs([m('c1', { trust: [OLD, NEW] })]));
  assert.equal(r3.state.phase, 'switch-signers');
  assert.deepEqual(r3.actions, ['publish-root', 'stage-intermediate']);
  assert.match(requestAdvance({ ...st, phase: 'done' }, obs([])).refused!, /already done/);
});

test('reissue window = leaves / (servers x rate x 25%), clamped to [30 s, 6 h]', () => {
  const table: Array<[leaves: number, servers: number, rate: number, ms: number]> = [
    [5000, 3, 50, 133_333],
    [10, 3, 50, 30_000],
    [100_000, 1, 50, 8_000_000],
    [1_000_000, 1, 50, 6 * 3_600_000],
    [100_000, 5, 50, 1_600_000],
    [5000, 0, 50, 400_000],
  ];
  for (const [leaves, servers, rate, ms] of table) assert.equal(reissueWindowMs({ leaves, servers, ratePerSec: rate }), ms, `${leaves}/${servers}/${rate}`);
  assert.equal(reissueWindowMs({ leaves: 10, servers: 3, ratePerSec: 50, minMs: 1000 }), 1000);
});

test('gates compare full root ids with the 16-character ids members announce', () => {
  const full = 'bb'.repeat(20);
  const st = { ...startRotation({ id: full, datacenter: 'dc1', oldRootId: 'aa'.repeat(20), newRootId: full, intermediateId: 'cc', coordinator: 's1', reissueWindowMs: 1, dropGraceMs: 1, manual: false, startedAtMs: 0 }), phase: 'reissue-leaves' as const };
  const ok = m('s1', { trust: [OLD, NEW], signerRoot: NEW, leaves: NEW });
  assert.deepEqual(gateBlockers(st, { nowMs: 0, members: [ok], bundleHasNewRoot: true }), []);
  assert.equal(gateBlockers(st, { nowMs: 0, members: [m('c1', { trust: [full] })], bundleHasNewRoot: true }).length, 2, 'a full id in a tag is not a tag id');
});

test('takeover election: the named coordinator while live (suspect included), else the lowest-named live server of the cluster', () => {
  const st = plan();
  const table: Array<[members: MemberCaView[], expect: string | undefined]> = [
    [[m('s1'), m('s0'), m('s2')], 's1'],
    [[m('s1', { live: true }), m('s0')], 's1'],
    [[m('s1', { live: false }), m('s3'), m('s2')], 's2'],
    [[m('s1', { live: false }), m('s0', { datacenter: 'dc2' }), m('s3')], 's3'],
    [[m('s1', { live: false }), m('c0'), m('s2', { live: false })], undefined],
    [[m('s3'), m('s2')], 's2'],
  ];
  for (const [members, expect] of table) assert.equal(electCoordinator(st, members), expect, JSON.stringify(members.map((x) => [x.name, x.live, x.datacenter])));
});
