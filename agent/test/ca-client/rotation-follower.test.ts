import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reissuePlan } from '../../src/ca-client/rotation-follower';
import type { RotationPhase, RotationState } from '../../src/ca-client/rotation';
import type { BundleView } from '../../src/ca-client/trust-bundle';

const view = (active: string): BundleView => ({ trustDomain: 't', index: 1, roots: [], activeRootId: active, intermediates: [], rotations: [] });
const rot = (phase: RotationPhase): RotationState => ({
  id: 'n', datacenter: 'dc1', oldRootId: 'o', newRootId: 'n', intermediateId: 'i', coordinator: 's', reissueWindowMs: 120_000, dropGraceMs: 1,
  manual: false, startedAtMs: 0, phase, phaseSinceMs: 0,
});

test('reissue: nothing before step 4, the rotation window in steps 4-5, a short window otherwise', () => {
  const table: Array<[active: string, phase: RotationPhase | undefined, expect: { rootId: string; windowMs: number } | undefined]> = [
    ['', undefined, undefined],
    ['o', undefined, { rootId: 'o', windowMs: 10_000 }],
    ['o', 'publish', undefined],
    ['o', 'confirm-trust', undefined],
    ['o', 'switch-signers', undefined],
    ['n', 'reissue-leaves', { rootId: 'n', windowMs: 120_000 }],
    ['n', 'drop-old-root', { rootId: 'n', windowMs: 120_000 }],
    ['n', 'done', { rootId: 'n', windowMs: 10_000 }],
  ];
  for (const [active, phase, expect] of table) {
    assert.deepEqual(reissuePlan(view(active), phase === undefined ? undefined : rot(phase), 10_000), expect, `${active}/${phase}`);
  }
});
