import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCluster } from '../../../e2e/sim/sim-cluster';
import { Keyring } from '../../src/gossip/keyring';
import { Memberlist } from '../../src/gossip/memberlist';
import { defaultLanConfig } from '../../src/gossip/config';
import { SeededRandom } from '../../src/core/random';
import type { DropReason, GossipMetrics } from '../../src/gossip/metrics';
import { noopGossipMetrics } from '../../src/gossip/metrics';

async function joined(c: SimCluster, n: number): Promise<void> {
  await c.add('seed');
  for (let i = 1; i < n; i++) {
    const node = await c.add(`n${i}`, { role: 'client' });
    const r = await c.settle(node.ml.join([c.node('seed').addr]));
    assert.equal(r.joined, 1, JSON.stringify(r.errors));
  }
  const t = await c.runUntil(() => c.live().every((x) => x.ml.numAlive() === n), 10_000);
  assert.ok(t >= 0, 'cluster converged');
}

test('members joining through one seed all see each other alive', async () => {
  const c = new SimCluster({ seed: 7 });
  await joined(c, 6);
  for (const n of c.nodes) {
    assert.deepEqual(n.ml.members().map((m) => m.state), Array(6).fill('alive'));
  }
  await c.shutdown();
});

test('a crashed member is suspected, then declared failed by everyone; others stay alive', async () => {
  const events: string[] = [];
  const c = new SimCluster({ seed: 3, onEvent: (obs, e) => events.push(`${obs.name}:${e.kind}:${e.member.name}`) });
  await joined(c, 7);
  await c.run(3000);
  events.length = 0;
  c.crash('n3');
  const t = await c.runUntil(() => (c.viewOf('n3').dead ?? 0) === 6, 30_000);
  assert.ok(t > 0, `n3 declared dead everywhere (view ${JSON.stringify(c.viewOf('n3'))})`);
  // 4 s min suspicion plus detection; the LAN profile should make it well inside 10 s for 7 nodes.
  assert.ok(t < 10_000, `took ${t} ms`);
  assert.ok(events.some((e) => e.endsWith(':suspect:n3')), 'suspected first');
  assert.ok(!events.some((e) => e.includes(':failed:') && !e.endsWith(':n3')), 'no other member failed');
  await c.shutdown();
});

test('a graceful leave is recorded as left, not failed', async () => {
  const c = new SimCluster({ seed: 4 });
  await joined(c, 5);
  const leaver = c.node('n2');
  await Promise.all([leaver.ml.leave(), c.run(1500)]);
  await leaver.ml.shutdown();
  leaver.crashed = true;
  await c.run(20_000);
  assert.deepEqual(c.viewOf('n2'), { left: 4 });
  await c.shutdown();
});

test('a restarted member comes back alive with a higher incarnation', async () => {
  const c = new SimCluster({ seed: 5 });
  await joined(c, 5);
  const old = c.node('n4');
  c.crash('n4');
  await c.runUntil(() => (c.viewOf('n4').dead ?? 0) === 4, 30_000);
  const deadInc = c.node('seed').ml.member('n4')!.incarnation;
  const again = new Memberlist({
    config: defaultLanConfig('n4', 'sim'), transport: c.net.transport(old.addr), clock: c.clock, random: new SeededRandom(99),
  });
  await again.start();
  assert.equal((await c.settle(again.join([c.node('seed').addr]))).joined, 1);
  const t = await c.runUntil(() => (c.viewOf('n4').alive ?? 0) === 4, 3000);
  assert.ok(t >= 0, `alive again everywhere: ${JSON.stringify(c.viewOf('n4'))}`);
  assert.ok(c.node('seed').ml.member('n4')!.incarnation > deadInc);
  await again.shutdown();
  await c.shutdown();
});

test('tag changes reach every member', async () => {
  const c = new SimCluster({ seed: 6 });
  await joined(c, 8);
  c.node('n5').ml.setTags({ role: 'server', zone: 'b' });
  const t = await c.runUntil(() => c.live().every((n) => n.ml.member('n5')?.tags.zone === 'b'), 5000);
  assert.ok(t >= 0 && t < 2000, `tags spread in ${t} ms`);
  await c.shutdown();
});

test('a wrongly suspected member refutes and stays alive', async () => {
  const c = new SimCluster({ seed: 8 });
  await joined(c, 6);
  const victim = c.node('n1').ml;
  const before = victim.localMember().incarnation;
  // A rumour started by one member that cannot reach n1, as after a transient link failure.
  c.node('n2').ml.membership.suspectNode({ type: 'suspect', incarnation: before, node: 'n1', from: 'n2' });
  await c.run(30_000);
  assert.deepEqual(c.viewOf('n1'), { alive: 5 });
  assert.ok(victim.localMember().incarnation > before);
  await c.shutdown();
});

test('a partition makes each side fail the other; after it heals everyone is alive again', async () => {
  const c = new SimCluster({ seed: 9, config: { reconnectIntervalMs: 5000 } });
  await joined(c, 6);
  const a = c.nodes.slice(0, 3).map((n) => n.addr);
  const b = c.nodes.slice(3).map((n) => n.addr);
  c.net.partition(a, b);
  const t1 = await c.runUntil(() => (c.viewOf('n4').dead ?? 0) === 3 && (c.viewOf('seed').dead ?? 0) === 3, 60_000);
  assert.ok(t1 > 0, 'each side declares the other failed');
  c.net.heal();
  const t2 = await c.runUntil(() => c.live().every((n) => n.ml.numAlive() === 6), 60_000);
  assert.ok(t2 >= 0, `healed: ${c.live().map((n) => n.ml.numAlive()).join(',')}`);
  await c.shutdown();
});

test('encrypted cluster: the right key joins, a wrong key is refused, a wrong label is refused', async () => {
  const key = Buffer.alloc(32, 7);
  const c = new SimCluster({ seed: 10, keyring: () => new Keyring([key]) });
  await joined(c, 3);
  const drops: DropReason[] = [];
  const metrics: GossipMetrics = { ...noopGossipMetrics, dropped: (r) => drops.push(r) };
  const seedAddr = c.node('seed').addr;
  const wrong = new Memberlist({
    config: defaultLanConfig('intruder', 'sim'), transport: c.net.transport('10.9.9.9:7301'), clock: c.clock,
    random: new SeededRandom(1), keyring: new Keyring([Buffer.alloc(32, 8)]), metrics,
  });
  await wrong.start();
  const r = await c.settle(wrong.join([seedAddr]));
  assert.equal(r.joined, 0);
  assert.match(r.errors[0]!.error, /gossip key/);
  const other = new Memberlist({
    config: defaultLanConfig('other-dc', 'dc2'), transport: c.net.transport('10.9.9.10:7301'), clock: c.clock,
    random: new SeededRandom(2), keyring: new Keyring([key]),
  });
  await other.start();
  assert.equal((await c.settle(other.join([seedAddr]))).joined, 0);
  assert.equal(c.node('seed').ml.member('intruder'), undefined);
  assert.equal(c.node('seed').ml.member('other-dc'), undefined);
  await wrong.shutdown();
  await other.shutdown();
  await c.shutdown();
});

test('queries reach every member and collect their answers', async () => {
  const c = new SimCluster({ seed: 11 });
  await joined(c, 5);
  for (const n of c.nodes) n.ml.onQuery('echo', (p) => Buffer.concat([Buffer.from(n.name + ':'), p]));
  const answers = await c.settle(c.node('n3').ml.query('echo', Buffer.from('hi'), { timeoutMs: 5000 }));
  assert.deepEqual(answers.map((a) => Buffer.from(a.payload).toString()).sort(),
    ['n1:hi', 'n2:hi', 'n3:hi', 'n4:hi', 'seed:hi']);
  await c.shutdown();
});

test('garbage datagrams are dropped and counted, and membership holds', async () => {
  const drops = new Map<string, number>();
  const c = new SimCluster({
    seed: 12,
    metrics: (name) => name === 'seed' ? { ...noopGossipMetrics, dropped: (r) => drops.set(r, (drops.get(r) ?? 0) + 1) } : noopGossipMetrics,
  });
  await joined(c, 4);
  const attacker = c.net.transport('10.66.0.1:7301');
  await attacker.start(() => {}, (s) => s.close());
  const rnd = new SeededRandom(5);
  for (let i = 0; i < 2000; i++) {
    const len = rnd.int(1500);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd.int(256);
    if (i % 3 === 0 && len > 4) { b[0] = 1; b[1] = 0; b[2] = 3; b.write('sim', 3); }
    attacker.sendPacket(c.node('seed').addr, b);
    if (i % 100 === 0) await c.run(100);
  }
  await c.run(5000);
  assert.ok([...drops.values()].reduce((a, b) => a + b, 0) >= 1900, JSON.stringify(Object.fromEntries(drops)));
  assert.ok(c.live().every((n) => n.ml.numAlive() === 4));
  await attacker.close();
  await c.shutdown();
});

test('a slow member is not declared failed and its own health score rises', async () => {
  const events: string[] = [];
  const c = new SimCluster({ seed: 13, onEvent: (obs, e) => { if (e.kind === 'failed') events.push(`${obs.name}:${e.member.name}`); } });
  await joined(c, 10);
  // Handles every packet 1.5 s late: later than the probe timeout and the whole probe interval, so its
  // own probes fail and others' probes of it fail too.
  c.net.setProcessingDelay(c.node('n7').addr, 1500);
  let maxScore = 0;
  for (let i = 0; i < 120; i++) {
    await c.run(1000);
    maxScore = Math.max(maxScore, c.node('n7').ml.healthScore());
  }
  assert.deepEqual(events, []);
  assert.ok(maxScore > 0, 'Lifeguard raised the slow node\'s score');
  await c.shutdown();
});

test('user broadcasts reach delegates, a keyed broadcast replaces a queued one, requests get answers', async () => {
  const got = new Map<string, string[]>();
  const c = new SimCluster({
    seed: 14,
    delegate: (name) => ({
      notifyUser: (p) => got.set(name, [...(got.get(name) ?? []), Buffer.from(p).toString()]),
      handleRequest: (p) => Buffer.from(`${name} answers ${Buffer.from(p).toString()}`),
    }),
  });
  await joined(c, 4);
  const origin = c.node('n1').ml;
  origin.broadcastUser(Buffer.from('v1'), 'cfg');
  origin.broadcastUser(Buffer.from('v2'), 'cfg');
  await c.run(3000);
  // Gossip may deliver a broadcast to one member more than once (delegates dedupe by version), but
  // the replaced v1 never goes out.
  for (const name of ['seed', 'n2', 'n3']) {
    const seen = got.get(name) ?? [];
    assert.ok(seen.length >= 1 && seen.every((v) => v === 'v2'), `${name}: ${seen.join(',')}`);
  }
  assert.throws(() => origin.broadcastUser(Buffer.alloc(origin.maxUserBroadcastBytes() + 20)), /datagram budget/);
  origin.broadcastUser(Buffer.alloc(origin.maxUserBroadcastBytes()));
  const answer = await c.settle(origin.request(c.node('n3').addr, Buffer.from('ping')));
  assert.equal(Buffer.from(answer).toString(), 'n3 answers ping');
  await c.shutdown();
});

test('a member marked failed that then leaves is corrected to left everywhere', async () => {
  const c = new SimCluster({ seed: 15 });
  await joined(c, 4);
  // n1 cannot hear n2 for a while and declares it failed; n2 is fine and later leaves.
  c.net.partition([c.node('n1').addr], [c.node('n2').addr]);
  await c.runUntil(() => c.node('n1').ml.member('n2')?.state === 'dead', 60_000);
  c.net.heal();
  await c.run(40_000);
  const leaver = c.node('n2');
  await Promise.all([leaver.ml.leave(), c.run(1500)]);
  await leaver.ml.shutdown();
  leaver.crashed = true;
  await c.run(5000);
  assert.deepEqual(c.viewOf('n2'), { left: 3 });
  await c.shutdown();
});

test('7 members: a crash is detected everywhere within 10 s and a join reaches all within 3 s, over many seeds', async (t) => {
  const detect: number[] = [];
  const spread: number[] = [];
  for (let seed = 100; seed < 130; seed++) {
    const c = new SimCluster({ seed });
    await joined(c, 6);
    const late = await c.add('late');
    const t0 = c.clock.now();
    await c.settle(late.ml.join([c.node('seed').addr]));
    const tj = await c.runUntil(() => (c.viewOf('late').alive ?? 0) === 6, 30_000, 10);
    spread.push(tj < 0 ? Infinity : tj + (c.clock.now() - t0 - tj));
    await c.run(5000);
    c.crash('n3');
    detect.push(await c.runUntil(() => (c.viewOf('n3').dead ?? 0) === 6, 60_000, 10));
    await c.shutdown();
  }
  const max = (xs: number[]): number => Math.max(...xs.map((x) => (x < 0 ? Infinity : x)));
  t.diagnostic(`crash -> dead everywhere, ms: max ${max(detect)}, all ${detect.join(' ')}`);
  t.diagnostic(`join -> known by all, ms: max ${max(spread)}, all ${spread.join(' ')}`);
  assert.ok(max(detect) < 10_000, `detection times ${detect.join(', ')}`);
  assert.ok(max(spread) < 3_000, `join spread times ${spread.join(', ')}`);
});
