import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaError, CaErrorCode, certInfo, createIntermediate, createRoot, LeafSigner, type Identity, type SignResponse } from '../../../ca/src';
import { LeafManager, type LeafManagerOptions } from '../../src/ca-client/leaf-manager';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { SeededRandom } from '../../src/core/random';
import { settle } from './fake-mux';
import { DC, TD } from './pki';

const H = 3_600_000;

/** Lets real async work (key generation, file writes) of the managers finish before virtual time moves on. */
async function idle(managers: readonly LeafManager[]): Promise<void> {
  await settle(3);
  for (let i = 0; i < 10_000 && managers.some((m) => m.busy()); i++) await settle(1);
}

const live: LeafManager[] = [];

/** Advances virtual time in steps, waiting for in-flight requests between steps. */
async function run(clock: VirtualClock, ms: number, stepMs = 60_000): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.advance(Math.min(stepMs, end - clock.now()));
    await idle(live);
  }
}

async function until(clock: VirtualClock, pred: () => boolean, maxMs: number, stepMs = 1000): Promise<void> {
  const end = clock.now() + maxMs;
  await idle(live);
  while (!pred() && clock.now() < end) {
    clock.advance(stepMs);
    await idle(live);
  }
  assert.ok(pred(), 'condition not reached in virtual time');
}

interface Issuer {
  calls: Array<{ identity: Identity; atMs: number }>;
  fail: number;
  signer: LeafSigner;
  issue: LeafManagerOptions['issue'];
}

async function issuer(clock: VirtualClock): Promise<Issuer> {
  const root = await createRoot({ trustDomain: TD, clock });
  const int = await createIntermediate({ root, datacenter: DC, trustDomain: TD, clock });
  const i: Issuer = {
    calls: [], fail: 0, signer: new LeafSigner({ intermediate: int, chainPem: [int.certPem], rootId: root.id, clock }),
    issue: async (identity, csr, ttl): Promise<SignResponse> => {
      i.calls.push({ identity, atMs: clock.wallNow() });
      if (i.fail > 0) {
        i.fail--;
        throw new Error('CA unreachable');
      }
      return i.signer.sign(csr, identity, ttl);
    },
  };
  return i;
}

function manager(clock: VirtualClock, iss: Issuer, dataDir?: string, seed = 1): LeafManager {
  const m = new LeafManager({
    nodeName: 'n1', datacenter: DC, trustDomain: TD, dataDir, leafTtlMs: 72 * H, issue: iss.issue, clock, random: new SeededRandom(seed), logger: noopLogger,
  });
  live.push(m);
  return m;
}

test('every renewal happens inside 60-90% of the leaf lifetime, on a virtual clock over three weeks', async () => {
  const clock = new VirtualClock();
  const iss = await issuer(clock);
  const lm = manager(clock, iss);
  await lm.start();
  await lm.setServices(['web']);
  await until(clock, () => lm.leaf() !== undefined && lm.leaf('web') !== undefined, 60_000, 100);
  const issued: Array<{ nb: number; na: number; id: string }> = [];
  lm.subscribe((c) => c.leaf && issued.push({ nb: c.leaf.notBeforeMs, na: c.leaf.notAfterMs, id: c.spiffeId }));
  const first = [lm.leaf()!, lm.leaf('web')!].map((l) => ({ nb: l.notBeforeMs, na: l.notAfterMs, id: l.spiffeId }));
  await run(clock, 21 * 24 * H, 10 * 60_000);
  lm.stop();
  const byId = new Map<string, Array<{ nb: number; na: number }>>();
  for (const x of [...first, ...issued]) byId.set(x.id, [...(byId.get(x.id) ?? []), x]);
  let checked = 0;
  for (const [id, leaves] of byId) {
    assert.ok(leaves.length >= 8, `${id}: ${leaves.length} leaves in 3 weeks`);
    for (let k = 1; k < leaves.length; k++) {
      const prev = leaves[k - 1]!;
      const renewedAt = leaves[k]!.nb + 60_000; // the signer backdates notBefore by 1 min
      const f = (renewedAt - prev.nb) / (prev.na - prev.nb);
      assert.ok(f >= 0.6 && f < 0.9 + 10 * 60_000 / (prev.na - prev.nb), `${id}: renewal at ${(f * 100).toFixed(2)}% of the lifetime (10 min steps)`);
      checked++;
    }
  }
  assert.ok(checked >= 16);
});

test('leaves are cached 0600 and served at once after a restart; an expired cached leaf is never served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-leaves-'));
  try {
    const clock = new VirtualClock();
    const iss = await issuer(clock);
    const a = manager(clock, iss, dir);
    await a.start();
    await a.setServices(['web']);
    await until(clock, () => a.leaf('web') !== undefined && a.leaf() !== undefined, 60_000, 100);
    await settle(20);
    a.stop();
    const file = join(dir, 'certs', 'service.default.web.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'certs')).mode & 0o777, 0o700);
    const serial = a.leaf('web')!.serialHex;
    const calls = iss.calls.length;

    const b = manager(clock, iss, dir);
    await b.start();
    await b.setServices(['web']);
    assert.equal(b.leaf('web')?.serialHex, serial, 'served from the cache without asking the CA');
    assert.equal(iss.calls.length, calls);
    b.stop();

    clock.advance(73 * H);
    iss.fail = 1000;
    const c = manager(clock, iss, dir);
    await c.start();
    await c.setServices(['web']);
    assert.equal(c.leaf('web'), undefined, 'expired: not served');
    assert.equal(c.leaf(), undefined);
    iss.fail = 0;
    await until(clock, () => c.leaf('web') !== undefined, 5 * 60_000, 1000);
    assert.notEqual(c.leaf('web')!.serialHex, serial, 'a fresh leaf was requested');
    c.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('failed requests are retried with backoff until the CA answers', async () => {
  const clock = new VirtualClock();
  const iss = await issuer(clock);
  iss.fail = 4;
  const lm = manager(clock, iss);
  await lm.start();
  await until(clock, () => lm.leaf() !== undefined, 10 * 60_000, 100);
  assert.equal(iss.calls.length, 5);
  const gaps = iss.calls.slice(1).map((c, i) => c.atMs - iss.calls[i]!.atMs);
  assert.ok(gaps.every((g) => g >= 500 && g <= 60_000 + 200), `gaps ${gaps.join(',')}`);
  assert.equal(lm.lastError(), undefined);
  lm.stop();
});

test('a service leaf refused as not registered (the servers\' catalog lagging) is retried within seconds, not on the slow policy', async () => {
  const clock = new VirtualClock();
  const iss = await issuer(clock);
  let refusals = 4;
  const slow = iss.issue;
  iss.issue = async (identity, csr, ttl) => {
    if (identity.kind === 'service' && refusals > 0) {
      refusals--;
      iss.calls.push({ identity, atMs: clock.wallNow() });
      throw new CaError(CaErrorCode.forbidden, 'service web is not registered on node n1');
    }
    return slow(identity, csr, ttl);
  };
  const lm = manager(clock, iss);
  await lm.start();
  await lm.setServices(['web']);
  const t0 = clock.wallNow();
  await until(clock, () => lm.leaf('web') !== undefined, 60_000, 50);
  // Four refusals: the quick policy waits at most 0.25 + 0.5 + 1 + 2 s; the general one up to 15 s.
  assert.ok(clock.wallNow() - t0 <= 3_750 + 200, `issued ${clock.wallNow() - t0} ms after the first refusal`);
  // Any other failure keeps the general policy (first retry after at least 500 ms).
  iss.fail = 1;
  await lm.setServices(['web', 'api']);
  const before = iss.calls.length;
  await until(clock, () => lm.leaf('api') !== undefined, 60_000, 50);
  const gap = iss.calls[iss.calls.length - 1]!.atMs - iss.calls[before]!.atMs;
  assert.ok(gap >= 500, `general retry after ${gap} ms`);
  lm.stop();
});

test('services come and go: leaves follow, subscribers hear it, a removed service loses its cached leaf', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-leaves-'));
  try {
    const clock = new VirtualClock();
    const iss = await issuer(clock);
    const lm = manager(clock, iss, dir);
    const changes: string[] = [];
    lm.subscribe((c) => changes.push(`${c.leaf === undefined ? '-' : '+'}${c.identity.kind === 'service' ? c.identity.service : 'agent'}`));
    await lm.start();
    await lm.setServices(['web', 'api']);
    await until(clock, () => lm.leaf('web') !== undefined && lm.leaf('api') !== undefined && lm.leaf() !== undefined, 60_000, 100);
    await settle(20);
    assert.equal(lm.leavesRootId(), iss.signer.rootId);
    await lm.setServices(['web']);
    await settle(20);
    assert.equal(lm.leaf('api'), undefined);
    assert.equal(existsSync(join(dir, 'certs', 'service.default.api.json')), false);
    assert.deepEqual([...changes].sort(), ['+agent', '+api', '+web', '-api']);
    lm.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rotation reissue replaces every leaf not under the new root within the window, once', async () => {
  const clock = new VirtualClock();
  const iss = await issuer(clock);
  const lm = manager(clock, iss);
  await lm.start();
  await lm.setServices(['web', 'api']);
  await until(clock, () => lm.leaves().length === 3, 60_000, 100);
  const root2 = await createRoot({ trustDomain: TD, clock });
  const int2 = await createIntermediate({ root: root2, datacenter: DC, trustDomain: TD, clock });
  iss.signer = new LeafSigner({ intermediate: int2, chainPem: [int2.certPem], rootId: root2.id, clock });
  const before = iss.calls.length;
  const t0 = clock.wallNow();
  assert.equal(lm.reissueNotUnder(root2.id, 30_000), 3);
  assert.equal(lm.reissueNotUnder(root2.id, 30_000), 0, 'repeated calls do not redraw');
  await run(clock, 31_000, 500);
  assert.equal(iss.calls.length - before, 3);
  assert.ok(iss.calls.slice(before).every((c) => c.atMs - t0 <= 30_500));
  assert.equal(lm.leavesRootId(), root2.id);
  assert.ok(lm.leaves().every((l) => certInfo(l.certPem).akiHex === int2.id));
  lm.stop();
});
