import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { LEAVES_ROOT_TAG, TRUSTED_ROOTS_TAG, CA_ROOT_TAG } from '../../../ca/src';
import { ROTATION_PHASES, type RotationPhase } from '../../src/ca-client';
import { tagRootId } from '../../src/ca-client/ca-tags';
import { verifyChain } from '../../src/ca-client/intermediate-transfer';
import { CaSim } from './ca-sim';
import { rotationPki } from './pki';

test('simulated cluster: a full root rotation completes with every member reporting the new chain', async (t) => {
  const sim = new CaSim();
  const pki = await rotationPki(sim.c.clock);
  try {
    await sim.start(pki, 3, 5);
    const oldId = pki.oldRoot.id;
    const newId = pki.newRoot.id;
    const [oldTag, newTag] = [tagRootId(oldId), tagRootId(newId)];
    await sim.until(() => sim.tagEverywhere(LEAVES_ROOT_TAG, oldTag), 60_000, 'every member holds leaves under the old root');
    for (const a of sim.agents.values()) assert.equal(a.ca.leaves.leaves().length, a.server ? 1 : 2, `${a.name}: agent leaf (+ sidecar service leaf)`);

    const coordinator = sim.agents.get('s0')!.ca;
    const phases: RotationPhase[] = [];
    const seen = (): void => {
      const p = coordinator.bundle.rotation('dc1')?.phase;
      if (p !== undefined && phases[phases.length - 1] !== p) phases.push(p);
    };
    const started = sim.c.clock.now();
    const r = await coordinator.rotate({
      rootCertPem: pki.newRoot.certPem, intermediateCertPem: pki.newInt.certPem, intermediateKeyPem: pki.newInt.keyPem, crossSignedCertPem: pki.cross,
      reissueWindowMs: 20_000, dropGraceMs: 5_000,
    });
    assert.equal(r.state.newRootId, newId);
    assert.ok(r.blockers.length >= 8, 'before publishing, every member would block step 2');
    const tookMs = await sim.until(() => {
      seen();
      return coordinator.bundle.rotation('dc1')?.phase === 'done' && sim.tagEverywhere(TRUSTED_ROOTS_TAG, newTag) && sim.tagEverywhere(LEAVES_ROOT_TAG, newTag);
    }, 10 * 60_000, 'rotation done with every member on the new root').catch((err: Error) => {
      const st = coordinator.status();
      err.message += `; phases ${phases.join(' > ')}; blockers ${JSON.stringify(st.rotation?.blockers)}`;
      throw err;
    });

    assert.deepEqual(phases, ROTATION_PHASES.slice(phases.length === 6 ? 0 : 1), `phases in order: ${phases.join(' > ')}`);
    for (const a of sim.agents.values()) {
      assert.deepEqual(a.ca.bundle.rootIds(), [newId], `${a.name} dropped the old root`);
      assert.equal(a.ca.bundle.view().activeRootId, newId);
      for (const leaf of a.ca.leaves.leaves()) {
        assert.equal(leaf.rootId, newId);
        const uris = verifyChain(leaf.certPem, [], [pki.newInt.certPem], [pki.newRoot.certPem], sim.c.clock.wallNow());
        assert.deepEqual(uris, [leaf.spiffeId]);
        const served = a.ca.leafFor(leaf.identity.kind === 'service' ? leaf.identity.service : undefined)!;
        assert.equal(new X509Certificate(served.certPem.split(/(?<=-----END CERTIFICATE-----\n)/)[1]!).issuer, new X509Certificate(pki.newRoot.certPem).subject,
          `${a.name} presents the direct chain once the old root is gone`);
      }
      if (a.server) assert.equal(a.ca.server!.rootId, newId, `${a.name} signs under the new root`);
    }
    for (const s of ['s0', 's1', 's2']) assert.equal(sim.c.node(s).ml.localMember().tags[CA_ROOT_TAG], newTag, `${s} announces the new root`);
    const status = sim.agents.get('c3')!.ca.status();
    assert.equal(status.rotation?.phase, 'done');
    assert.ok(status.members.every((m) => m.trustsNewRoot && m.leavesUnderNewRoot), 'any agent reports every member done');
    t.diagnostic(`simulated rotation: 3 servers + 5 clients, ${Math.round(tookMs / 1000)} virtual s (reissue window 20 s, grace 5 s), phases ${phases.join(' > ')}, started at ${Math.round(started / 1000)} s`);
  } finally {
    await sim.shutdown();
  }
});

test('simulated cluster: when the coordinator is killed mid-rotation, the lowest-named live server takes over and finishes it', async (t) => {
  const sim = new CaSim();
  const pki = await rotationPki(sim.c.clock);
  try {
    await sim.start(pki, 3, 3);
    const newId = pki.newRoot.id;
    const newTag = tagRootId(newId);
    await sim.until(() => sim.tagEverywhere(LEAVES_ROOT_TAG, tagRootId(pki.oldRoot.id)), 60_000, 'every member holds leaves under the old root');
    const s0 = sim.agents.get('s0')!.ca;
    // Manual, so the rotation is held in step 2 until the coordinator is gone: the takeover must come from the staged material alone.
    await s0.rotate({
      rootCertPem: pki.newRoot.certPem, intermediateCertPem: pki.newInt.certPem, intermediateKeyPem: pki.newInt.keyPem, crossSignedCertPem: pki.cross,
      reissueWindowMs: 20_000, dropGraceMs: 5_000, manual: true,
    });
    await sim.until(() => ['s1', 's2'].every((s) => sim.agents.get(s)!.ca.server!.staged?.intermediateId === pki.newInt.id), 30_000, 'the other servers staged the new intermediate');
    for (const s of ['s1', 's2']) assert.equal(sim.agents.get(s)!.ca.server!.rootId, pki.oldRoot.id, `${s} still signs under the old root (step 3 not reached)`);
    assert.equal(s0.bundle.rotation('dc1')?.phase, 'publish');

    await sim.run(10_000); // past every server's start-up grace (resumeDelayMs), so the figure below is detection + election
    assert.equal(s0.bundle.rotation('dc1')?.phase, 'publish', 'manual: held in step 1');
    await sim.crash('s0');
    const crashedAt = sim.c.clock.now();
    const s1 = sim.agents.get('s1')!.ca;
    const active = (): string[] => ['s1', 's2'].filter((s) => {
      const cur = sim.agents.get(s)!.ca.coordinator?.current;
      return cur !== undefined && cur.phase !== 'done';
    });
    let most = 0;
    const tookOverMs = await sim.until(() => {
      most = Math.max(most, active().length);
      return s1.bundle.rotation('dc1')?.coordinator === 's1';
    }, 60_000, 's1 takes over');
    const rec = s1.bundle.rotation('dc1')!;
    assert.equal(rec.term, 1, 'a takeover raises the coordinator term');
    assert.equal(rec.phase, 'publish', 'it resumes from the replicated phase');
    assert.deepEqual(active(), ['s1'], 's2 does not coordinate');
    assert.ok(s1.coordinator!.holdsMaterial, 's1 holds the staged intermediate and its key');

    // The successor drives the manual steps to the end, each gate checked as before.
    const tookMs = await sim.until(() => {
      most = Math.max(most, active().length);
      const st = s1.bundle.rotation('dc1');
      if (st !== undefined && st.phase !== 'done') void s1.advanceRotation().catch(() => {});
      return st?.phase === 'done' && sim.tagEverywhere(TRUSTED_ROOTS_TAG, newTag) && sim.tagEverywhere(LEAVES_ROOT_TAG, newTag);
    }, 10 * 60_000, 'the rotation done under s1 with every live member on the new root').catch((err: Error) => {
      err.message += `; blockers ${JSON.stringify(s1.status().rotation?.blockers)}`;
      throw err;
    });
    assert.equal(most, 1, 'never two coordinators at once');
    for (const [name, a] of sim.agents) {
      if (name === 's0') continue;
      assert.deepEqual(a.ca.bundle.rootIds(), [newId], `${name} dropped the old root`);
      assert.equal(a.ca.bundle.rotation('dc1')?.coordinator, 's1');
      for (const leaf of a.ca.leaves.leaves()) assert.equal(leaf.rootId, newId, `${name}: ${leaf.spiffeId}`);
      if (a.server) assert.equal(a.ca.server!.rootId, newId, `${name} signs under the new root`);
    }
    t.diagnostic(`coordinator killed in step 1 (manual): s1 took over ${Math.round(tookOverMs / 1000)} virtual s after the kill, the rotation finished ${Math.round((tookMs + tookOverMs) / 1000)} virtual s after it (crash at ${Math.round(crashedAt / 1000)} s)`);
  } finally {
    await sim.shutdown();
  }
});
