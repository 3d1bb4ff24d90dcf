import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { Channel } from '../../src/agent/gossip-mux';
import { ReplicatedCatalog } from '../../src/catalog/replicated-catalog';
import { encodeFull, encodeNodeCatalog } from '../../src/catalog/catalog-codec';
import type { NodeCatalog } from '../../src/catalog/types';
import { VirtualClock } from '../../src/core/clock';
import { pushPull } from '../../src/gossip/push-pull';
import { CatalogSim, chk, sidecar, svc } from './replicated-sim';

const N = 20;

function sees(sim: CatalogSim, service: string, except?: string, pred: (n: number) => boolean = (n) => n > 0): boolean {
  return sim.liveCatalogs(except).every((cat) => pred(cat.instances(service).length));
}

async function cluster(n = N, opts: ConstructorParameters<typeof CatalogSim>[0] = {}): Promise<CatalogSim> {
  const sim = new CatalogSim({ seed: 21, ...opts });
  await sim.start(n);
  // Let every node's initial (empty) state spread first.
  await sim.c.run(5000);
  return sim;
}

// ---- queries on one catalog (no gossip) ----

test('queries: instances by tag, passing and connect; services map; node checks include serfHealth', () => {
  const clock = new VirtualClock();
  const cat = new ReplicatedCatalog({ nodeName: 'a', address: '10.0.0.1', datacenter: 'dc1', clock });
  const web = svc('web-1', 'web', { tags: ['v1', 'blue'] });
  const web2 = svc('web-2', 'web', { tags: ['v2'] });
  const api = svc('api', 'api', { tags: ['x'] });
  const i0 = cat.index();
  cat.setLocal({
    services: [web, web2, api, sidecar('web')],
    checks: [chk('web-1-http', web), chk('web-2-http', web2, 'warning'), chk('mem', undefined, 'passing'),
      { ...chk('ignored', undefined), type: 'serf' }],
  });
  assert.ok(cat.index() > i0 && i0 > 0);
  assert.deepEqual([...cat.services()], [['api', ['x']], ['web', ['blue', 'v1', 'v2']], ['web-sidecar-proxy', []]]);
  assert.deepEqual(cat.instances('web').map((i) => i.service.id), ['web-1', 'web-2']);
  assert.deepEqual(cat.instances('web', { tag: 'v2' }).map((i) => i.service.id), ['web-2']);
  assert.deepEqual(cat.instances('web', { passingOnly: true }).map((i) => i.service.id), ['web-1']);
  assert.deepEqual(cat.instances('web', { connect: true }).map((i) => i.service.id), ['web-sidecar-proxy']);
  const checks = cat.instances('web')[0]!.checks.map((c) => c.checkId);
  assert.deepEqual(checks, ['serfHealth', 'mem', 'web-1-http']);
  assert.deepEqual(cat.serviceChecks('web').map((c) => c.checkId), ['web-1-http', 'web-2-http']);
  assert.deepEqual(cat.checksInState('warning').map((c) => c.checkId), ['web-2-http']);
  assert.equal((cat.checksInState('any')[0] as { node?: string }).node, 'a');
  assert.ok(!cat.checksInState('any').some((c) => c.checkId === 'ignored'), 'serf checks from the registry are not spread');
  assert.equal(cat.node('a')!.services.length, 4);
  cat.close();
});

test('index and subscribers: a material change notifies, an identical snapshot does not, output-only waits', () => {
  const clock = new VirtualClock();
  const cat = new ReplicatedCatalog({ nodeName: 'a', address: '10.0.0.1', datacenter: 'dc1', clock, tuning: { checkOutputSyncMs: 60_000 } });
  let notified = 0;
  const off = cat.subscribe(() => notified++);
  const web = svc('web');
  cat.setLocal({ services: [web], checks: [chk('c', web, 'passing', 'out 1')] });
  const afterFirst = cat.index();
  assert.equal(notified, 1);
  cat.setLocal({ services: [web], checks: [chk('c', web, 'passing', 'out 1')] });
  assert.equal(cat.index(), afterFirst, 'no change, no new index');
  cat.setLocal({ services: [web], checks: [chk('c', web, 'passing', 'out 2')] });
  assert.equal(cat.index(), afterFirst, 'output-only change is deferred');
  clock.advance(60_000);
  assert.ok(cat.index() > afterFirst, 'deferred output spread after checkOutputSyncMs');
  assert.equal(cat.serviceChecks('web')[0]!.output, 'out 2');
  const v = cat.localVersion().seq;
  cat.setLocal({ services: [web], checks: [chk('c', web, 'critical', 'out 3')] });
  assert.equal(cat.localVersion().seq, v + 1, 'a status change is spread at once');
  off();
  const before = notified;
  cat.setLocal({ services: [], checks: [] });
  assert.equal(notified, before, 'unsubscribed');
  cat.close();
});

test('setLocal refuses a state that peers would drop', () => {
  const clock = new VirtualClock();
  const cat = new ReplicatedCatalog({ nodeName: 'a', address: '10.0.0.1', datacenter: 'dc1', clock });
  assert.throws(() => cat.setLocal({ services: [svc('x', 'x', { port: 70_000 })], checks: [] }), /port/);
  cat.close();
});

// ---- simulated clusters ----

test('registration convergence over several seeds (figures)', async (t) => {
  const times: number[] = [];
  for (const seed of [1, 2, 3, 4, 5]) {
    const sim = new CatalogSim({ seed });
    await sim.start(N);
    await sim.c.run(5000);
    sim.catalog(`node-${seed}`).setLocal({ services: [svc('web')], checks: [] });
    times.push(await sim.c.runUntil(() => sees(sim, 'web'), 10_000));
    await sim.shutdown();
  }
  t.diagnostic(`registration on ${N} agents, seeds 1-5: ${times.join(', ')} ms (virtual)`);
  assert.ok(times.every((x) => x >= 0 && x <= 2000), times.join(','));
});

test('20 agents: a registration on one is visible on all within 2 s; a health change likewise', async (t) => {
  const sim = await cluster();
  const origin = sim.catalog('node-7');
  const web = svc('web-1', 'web', { tags: ['v1'] });
  origin.setLocal({ services: [web], checks: [chk('web-http', web)] });
  const tReg = await sim.c.runUntil(() => sees(sim, 'web'), 10_000);
  t.diagnostic(`registration visible on ${N} agents after ${tReg} ms (virtual)`);
  assert.ok(tReg >= 0 && tReg <= 2000, `registration took ${tReg} ms`);

  origin.setLocal({ services: [web], checks: [chk('web-http', web, 'critical', 'connection refused')] });
  const tHealth = await sim.c.runUntil(() => sees(sim, 'web', undefined, () => true) &&
    sim.liveCatalogs().every((cat) => cat.instances('web', { passingOnly: true }).length === 0), 10_000);
  t.diagnostic(`health change visible on ${N} agents after ${tHealth} ms (virtual)`);
  assert.ok(tHealth >= 0 && tHealth <= 2000, `health change took ${tHealth} ms`);
  for (const cat of sim.liveCatalogs()) assert.deepEqual(cat.versionOf('node-7'), origin.localVersion());
  await sim.shutdown();
});

test('a crashed node\'s services vanish everywhere once gossip declares it failed; a restarted node\'s return', async (t) => {
  const sim = await cluster();
  const victim = sim.catalog('node-3');
  victim.setLocal({ services: [svc('db')], checks: [] });
  assert.ok(await sim.c.runUntil(() => sees(sim, 'db'), 5000) >= 0);
  const addr = sim.c.node('node-3').addr;
  const indexBefore = sim.catalog('node-0').index();

  sim.crash('node-3');
  const tGone = await sim.c.runUntil(() => sees(sim, 'db', 'node-3', (n) => n === 0), 90_000);
  t.diagnostic(`crashed node's services gone from ${N - 1} agents after ${tGone} ms (virtual)`);
  assert.ok(tGone > 0, 'services vanished everywhere');
  for (const n of sim.c.live()) {
    assert.equal(n.ml.member('node-3')?.state, 'dead', `${n.name} holds node-3 failed`);
    assert.equal(sim.catalog(n.name).node('node-3'), undefined);
  }
  assert.ok(sim.catalog('node-0').index() > indexBefore, 'the disappearance moved the index');
  // A stale rumour about the dead node (its old state, relayed late) does not bring it back.
  const stale: NodeCatalog = {
    node: 'node-3', address: '10.0.0.4', datacenter: 'sim', meta: {}, version: victim.localVersion(), services: [svc('db')], checks: [],
  };
  sim.muxes.get('node-0')!.notifyUser(Uint8Array.of(Channel.catalog, ...encodeFull(encodeNodeCatalog(stale))));
  assert.equal(sim.catalog('node-0').instances('db').length, 0);

  await sim.c.run(1000);
  const again = await sim.restart('node-3', addr, 'node-0');
  again.setLocal({ services: [svc('db'), svc('cache')], checks: [] });
  const tBack = await sim.c.runUntil(() => sees(sim, 'cache') && sees(sim, 'db'), 30_000);
  t.diagnostic(`restarted node's services back on ${N} agents after ${tBack} ms (virtual)`);
  assert.ok(tBack >= 0 && tBack <= 5000, `took ${tBack} ms`);
  assert.ok(again.localVersion().generation > victim.localVersion().generation, 'a restart starts a newer generation');
  await sim.shutdown();
});

test('a node state larger than a datagram spreads as a digest and is fetched over streams', async (t) => {
  const sim = await cluster();
  const origin = sim.catalog('node-11');
  const services = Array.from({ length: 40 }, (_, i) => svc(`svc-${i}`, `svc-${i}`, { tags: ['a-rather-long-tag-value', `shard-${i}`] }));
  origin.setLocal({ services, checks: services.map((s) => chk(`${s.id}-check`, s)) });
  const tBig = await sim.c.runUntil(() => sim.liveCatalogs().every((cat) => cat.node('node-11')?.services.length === 40), 10_000);
  t.diagnostic(`large state (${encodeNodeCatalog(origin.node('node-11')!).length} bytes) on ${N} agents after ${tBig} ms (virtual)`);
  assert.ok(tBig >= 0 && tBig <= 2000, `took ${tBig} ms`);
  assert.ok(origin.stats().broadcastsDigest > 0, 'the origin broadcast a digest');
  const fetched = sim.liveCatalogs('node-11').reduce((n, cat) => n + cat.stats().fetchesStarted, 0);
  assert.ok(fetched >= N - 1, `receivers fetched (${fetched})`);
  await sim.shutdown();
});

test('with 10% packet loss a registration still reaches every agent', async (t) => {
  const sim = await cluster(N, { loss: 0.1 });
  const web = svc('web');
  sim.catalog('node-2').setLocal({ services: [web], checks: [chk('web-http', web)] });
  const tLoss = await sim.c.runUntil(() => sees(sim, 'web'), 30_000);
  t.diagnostic(`registration visible on ${N} agents at 10% loss after ${tLoss} ms (virtual)`);
  assert.ok(tLoss >= 0 && tLoss <= 2000, `took ${tLoss} ms`);
  await sim.shutdown();
});

for (const budget of [undefined, 64]) test(`a member partitioned away during changes catches up by push-pull anti-entropy (whole-state budget ${budget ?? 'default'})`, async (t) => {
  // Periodic push-pull is off so that nothing but the exchanges this test starts can repair; a long
  // suspicion timeout keeps the partitioned member alive in everyone's view (no failure, no rejoin).
  // With a 64-byte budget no state fits the exchange: all of it goes by digest and fetch.
  const sim = new CatalogSim({ seed: 21, config: { pushPullIntervalMs: 0, suspicionMult: 30 } }, budget === undefined ? {} : { pushPullBudgetBytes: budget });
  await sim.start(8);
  await sim.c.run(5000);
  const lonely = sim.c.node('node-5');
  const others = sim.c.nodes.filter((n) => n.name !== 'node-5').map((n) => n.addr);
  sim.c.net.partition([lonely.addr], others);
  sim.catalog('node-1').setLocal({ services: [svc('late')], checks: [] });
  sim.catalog('node-2').setLocal({ services: [svc('later')], checks: [] });
  await sim.c.run(3000);
  assert.ok(sees(sim, 'late', 'node-5') && sees(sim, 'later', 'node-5'), 'the others have both');
  sim.c.net.heal();
  await sim.c.run(2000);
  assert.equal(sim.catalog('node-5').instances('late').length, 0, 'retransmits are spent: broadcasts did not deliver it');
  // One exchange started by the member that was away, with a member that only relayed the change...
  const start = sim.c.clock.now();
  await sim.c.settle(pushPull(lonely.ml, sim.muxes.get('node-5'), sim.c.node('node-3').addr, false));
  await sim.c.runUntil(() => sim.catalog('node-5').instances('late').length === 1, 5000);
  t.diagnostic(`caught up ${sim.c.clock.now() - start} ms after one push-pull (virtual)`);
  assert.equal(sim.catalog('node-5').instances('later').length, 1);
  if (budget !== undefined) assert.ok(sim.catalog('node-5').stats().fetchesStarted >= 2, 'states not carried whole were fetched');
  assert.deepEqual(sim.catalog('node-5').versionOf('node-1'), sim.catalog('node-1').localVersion());
  // ... and the other way round: a member that missed a change learns it when a peer pulls from it.
  sim.c.net.partition([sim.c.node('node-6').addr], sim.c.nodes.filter((n) => n.name !== 'node-6').map((n) => n.addr));
  sim.catalog('node-1').setLocal({ services: [svc('late'), svc('latest')], checks: [] });
  await sim.c.run(3000);
  sim.c.net.heal();
  assert.equal(sim.catalog('node-6').instances('latest').length, 0);
  await sim.c.settle(pushPull(sim.c.node('node-0').ml, sim.muxes.get('node-0'), sim.c.node('node-6').addr, false));
  assert.ok(await sim.c.runUntil(() => sim.catalog('node-6').instances('latest').length === 1, 5000) >= 0);
  assert.equal(sim.c.node('node-1').ml.member('node-5')?.state, 'alive');
  await sim.shutdown();
});

test('malformed channel payloads are dropped and counted, never thrown', async () => {
  const sim = await cluster(3);
  const mux = sim.muxes.get('node-0')!;
  const cat = sim.catalog('node-0');
  const idx = cat.index();
  const bad: Uint8Array[] = [
    Uint8Array.of(0xc1), // never-used msgpack byte
    encode('just a string'),
    encode([99, 'unknown type']),
    encode([1, ['n', 'addr', 'dc', {}, 1, 1, 'not a list', []]]),
    encode([1, ['n', 'addr', 'dc', {}, -1, 1, [], []]]),
    encode([1, ['', 'addr', 'dc', {}, 1, 1, [], []]]),
    encode([1, ['n', 'addr', 'dc', { k: 5 }, 1, 1, [], []]]),
    encode([2, 'node-1', 1, 1, 'no-port', 'x:1']),
    encode([3, '10.0.0.1:7301', [['n', 1]], []]),
    encode([4, 'node-1']), // a request is not a broadcast
    encode([1, ['n', 'a', 'dc', {}, 1, 1, [['id', 'name', 'connect-proxy', '', 1, [], {}, 1, 1, false, '', null, 'api']], []]]),
  ];
  for (const b of bad) mux.notifyUser(Uint8Array.of(Channel.catalog, ...b));
  assert.equal(cat.droppedTotal(), bad.length);
  assert.equal(cat.index(), idx, 'nothing applied');
  // Push-pull state and requests are validated the same way.
  mux.mergeRemoteState(encode({ 1: encode([3, 'nope', 'x', []]) }), false);
  assert.equal(await mux.handleRequest(Uint8Array.of(Channel.catalog, 0xc1)), undefined);
  assert.equal(cat.droppedTotal(), bad.length + 2);
  // Arbitrary bytes never throw and never change the catalog.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    mux.notifyUser(Uint8Array.of(Channel.catalog, ...bytes));
    return cat.index() === idx;
  }), { numRuns: 300 });
  await sim.shutdown();
});
