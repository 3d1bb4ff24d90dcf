import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { Channel } from '../../src/agent/gossip-mux';
import { ValidationError } from '../../src/catalog/types';
import { ConfigEntryStore } from '../../src/config-entries/config-entry-store';
import { CONFIG_ENTRIES_FILE } from '../../src/config-entries/entry-persistence';
import { encodeFullRecord, encodeRecord } from '../../src/config-entries/entry-record';
import { VirtualClock } from '../../src/core/clock';
import { pushPull } from '../../src/gossip/push-pull';
import { EntrySim, tempDir } from './entry-sim';

const defaults = (name: string, protocol = 'http'): Record<string, unknown> => ({ Kind: 'service-defaults', Name: name, Protocol: protocol });

function memoryStore(clock = new VirtualClock(), node = 'a'): ConfigEntryStore {
  return new ConfigEntryStore({ nodeName: node, clock });
}

// ---- local semantics ----

test('put, get, list, delete; indexes; createIndex kept across updates', async () => {
  const s = memoryStore();
  const seen: number[] = [];
  s.subscribe(() => seen.push(s.index()));
  assert.ok(s.index() > 0);
  assert.equal(await s.put(defaults('web')), true);
  assert.equal(await s.put({ kind: 'service-resolver', name: 'web', connect_timeout: '5s' }), true);
  const first = s.get('service-defaults', 'web')!;
  assert.deepEqual(first.entry, { Kind: 'service-defaults', Name: 'web', Protocol: 'http' });
  assert.equal(first.createIndex, first.modifyIndex);
  assert.equal(await s.put(defaults('web', 'grpc')), true);
  const second = s.get('service-defaults', 'web')!;
  assert.equal(second.createIndex, first.createIndex);
  assert.ok(second.modifyIndex > first.modifyIndex);
  assert.deepEqual(s.list().map((e) => `${e.entry.Kind}/${e.entry.Name}`), ['service-defaults/web', 'service-resolver/web']);
  assert.deepEqual(s.list('service-resolver').map((e) => e.entry['ConnectTimeout']), ['5s']);
  assert.equal(await s.delete('service-defaults', 'web'), true);
  assert.equal(s.get('service-defaults', 'web'), undefined);
  assert.equal(await s.delete('service-defaults', 'web'), false, 'absent');
  assert.equal(await s.delete('no-such-kind', 'web'), false);
  assert.equal(s.tombstoneCount(), 1);
  assert.equal(await s.put(defaults('web')), true);
  assert.ok(s.get('service-defaults', 'web')!.createIndex > second.modifyIndex, 'recreated after delete: a new createIndex');
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'index only grows');
  assert.equal(seen.length, 5, 'one notification per change');
  // Returned entries are copies: mutating one does not change the store.
  (s.get('service-defaults', 'web')!.entry as Record<string, unknown>)['Protocol'] = 'tcp';
  assert.equal(s.get('service-defaults', 'web')!.entry['Protocol'], 'http');
  await assert.rejects(s.put({ Kind: 'service-defaults', Name: 'x', Protocol: 'udp' }), ValidationError);
});

test('the first write on an empty store moves the index past what a blocking query saw', async () => {
  // Regression: an empty store reported index 1 and its first write got index 1 too, so a watch
  // holding ?index=1 never woke.
  const s = memoryStore();
  const before = s.index();
  assert.ok(before > 0, 'X-Consul-Index must be > 0 even when empty');
  let woke = 0;
  s.subscribe(() => woke++);
  await s.put(defaults('web'));
  assert.ok(s.index() > before, `index ${s.index()} after the first write, ${before} before`);
  assert.ok(s.get('service-defaults', 'web')!.modifyIndex > before);
  assert.ok(woke > 0);
});

test('cas: 0 writes only if absent (deleted counts as absent); otherwise the current ModifyIndex', async () => {
  const s = memoryStore();
  assert.equal(await s.put(defaults('web'), { cas: 0 }), true);
  assert.equal(await s.put(defaults('web'), { cas: 0 }), false, 'exists');
  const idx = s.get('service-defaults', 'web')!.modifyIndex;
  assert.equal(await s.put(defaults('web', 'grpc'), { cas: idx + 1 }), false);
  assert.equal(s.get('service-defaults', 'web')!.entry['Protocol'], 'http', 'failed cas changes nothing');
  assert.equal(await s.put(defaults('web', 'grpc'), { cas: idx }), true);
  const idx2 = s.get('service-defaults', 'web')!.modifyIndex;
  assert.equal(await s.delete('service-defaults', 'web', { cas: idx }), false, 'stale index');
  assert.equal(await s.delete('service-defaults', 'web', { cas: idx2 }), true);
  assert.equal(await s.put(defaults('web'), { cas: 0 }), true, 'a tombstone counts as absent');
});

// ---- persistence ----

test('persistence round trip: entries, tombstones, index and clock survive a restart (0600 file)', async () => {
  const dir = await tempDir();
  const clock = new VirtualClock();
  const a = new ConfigEntryStore({ nodeName: 'a', clock, dataDir: dir });
  await a.load();
  await a.put(defaults('web'));
  await a.put({ Kind: 'service-intentions', Name: 'db', Sources: [{ Name: 'web', Action: 'allow' }] });
  await a.put(defaults('gone'));
  await a.delete('service-defaults', 'gone');
  const index = a.index();
  const stamp = a.stampOf('service-defaults', 'gone')!;
  await a.close();
  const path = join(dir, CONFIG_ENTRIES_FILE);
  assert.equal((await fs.stat(path)).mode & 0o777, 0o600);

  // The wall clock went backwards (a restarted machine with a bad clock): stamps still advance.
  const b = new ConfigEntryStore({ nodeName: 'a', clock: new VirtualClock(-3_600_000), dataDir: dir });
  const r = await b.load();
  assert.equal(r.corruptMovedTo, undefined);
  assert.deepEqual(b.list().map((e) => e.entry.Name), ['web', 'db']);
  assert.equal(b.tombstoneCount(), 1);
  assert.ok(b.index() >= index);
  await b.put(defaults('web', 'grpc'));
  assert.ok(b.get('service-defaults', 'web')!.modifyIndex > index, 'indexes never reused');
  await b.put(defaults('gone'));
  assert.ok(b.stampOf('service-defaults', 'gone')!.hlc.wallMs >= stamp.hlc.wallMs);
  assert.ok(b.stampOf('service-defaults', 'gone')!.hlc.counter > stamp.hlc.counter || b.stampOf('service-defaults', 'gone')!.hlc.wallMs > stamp.hlc.wallMs);
  await b.close();
  await fs.rm(dir, { recursive: true });
});

test('a corrupt store file is moved aside and reported; invalid single records are skipped', async () => {
  const dir = await tempDir();
  const path = join(dir, CONFIG_ENTRIES_FILE);
  await fs.writeFile(path, '{"Format":1,"Index":3,"Hl');
  const logged: string[] = [];
  const logger = {
    debug: () => {}, info: () => {}, warn: (_f: object, m: string) => logged.push(m), error: (f: object, m: string) => logged.push(`${m} ${JSON.stringify(f)}`),
    child: () => logger,
  };
  const s = new ConfigEntryStore({ nodeName: 'a', clock: new VirtualClock(), dataDir: dir, logger });
  const r = await s.load();
  assert.ok(r.corruptMovedTo !== undefined && r.corruptMovedTo.startsWith(`${path}.corrupt-`));
  assert.equal(await fs.readFile(r.corruptMovedTo, 'utf8'), '{"Format":1,"Index":3,"Hl');
  await assert.rejects(fs.stat(path), /ENOENT/);
  assert.ok(logged.some((l) => l.includes('corrupt') && l.includes(path)), logged.join('\n'));
  assert.deepEqual(s.list(), []);

  const good = { Kind: 'service-defaults', Name: 'ok', WallMs: 1, Counter: 0, Node: 'x', CreateIndex: 1, ModifyIndex: 1, Entry: { Kind: 'service-defaults', Name: 'ok' } };
  const bad = { ...good, Name: 'bad', Entry: { Kind: 'service-defaults', Name: 'bad', Protocol: 'udp' } };
  await fs.writeFile(path, JSON.stringify({ Format: 1, Index: 2, Hlc: { WallMs: 1, Counter: 0 }, Records: [good, bad] }));
  const t = new ConfigEntryStore({ nodeName: 'a', clock: new VirtualClock(), dataDir: dir, logger });
  const r2 = await t.load();
  assert.equal(r2.skippedRecords, 1);
  assert.deepEqual(t.list().map((e) => e.entry.Name), ['ok']);
  await fs.rm(dir, { recursive: true });
});

// ---- replication on a simulated cluster ----

async function entryCluster(n: number, opts: ConstructorParameters<typeof EntrySim>[0] = {}): Promise<EntrySim> {
  const sim = new EntrySim({ seed: 31, ...opts });
  await sim.start(n);
  await sim.c.run(1000);
  return sim;
}

test('a write on one agent reaches all 20 within 2 s; large entries go by digest and fetch', async (t) => {
  const sim = await entryCluster(20);
  await sim.store('node-4').put({ Kind: 'service-resolver', Name: 'web', ConnectTimeout: '3s' });
  const t1 = await sim.c.runUntil(() => sim.liveStores().every((s) => s.get('service-resolver', 'web') !== undefined), 10_000);
  t.diagnostic(`config entry on 20 agents after ${t1} ms (virtual)`);
  assert.ok(t1 >= 0 && t1 <= 2000, `took ${t1} ms`);

  const sources = Array.from({ length: 60 }, (_, i) => ({ Name: `client-${i}`, Action: 'allow', Description: 'a long enough description to make it large' }));
  await sim.store('node-9').put({ Kind: 'service-intentions', Name: 'db', Sources: sources });
  const t2 = await sim.c.runUntil(() => sim.liveStores().every((s) => (s.get('service-intentions', 'db')?.entry['Sources'] as unknown[] | undefined)?.length === 60), 10_000);
  t.diagnostic(`large (${encodeRecord({ kind: 'service-intentions', name: 'db', entry: sim.store('node-9').get('service-intentions', 'db')!.entry, hlc: { wallMs: 0, counter: 0 }, node: 'node-9' }).length} bytes) entry on 20 agents after ${t2} ms (virtual)`);
  assert.ok(t2 >= 0 && t2 <= 2000, `took ${t2} ms`);
  await sim.shutdown();
});

test('concurrent writes to one entry on different agents end as the same value everywhere', async (t) => {
  const sim = await entryCluster(10);
  // Same virtual instant, three writers, three values: the stamp (hlc, node) decides.
  await Promise.all([
    sim.store('node-1').put(defaults('web', 'http')),
    sim.store('node-5').put(defaults('web', 'grpc')),
    sim.store('node-8').put(defaults('web', 'tcp')),
  ]);
  const same = (): boolean => {
    const values = sim.liveStores().map((s) => JSON.stringify(s.get('service-defaults', 'web')?.entry));
    return values.every((v) => v === values[0] && v !== undefined);
  };
  const took = await sim.c.runUntil(same, 30_000);
  t.diagnostic(`3 concurrent writers converged after ${took} ms (virtual)`);
  assert.ok(took >= 0);
  // Equal wall time and counter: the node name breaks the tie, node-8 > node-5 > node-1.
  assert.equal(sim.store('node-0').get('service-defaults', 'web')!.entry['Protocol'], 'tcp');
  assert.equal(sim.store('node-1').stampOf('service-defaults', 'web')!.node, 'node-8');
  // A later write anywhere wins over all of them.
  await sim.c.run(10);
  await sim.store('node-1').put(defaults('web', 'http2'));
  assert.ok(await sim.c.runUntil(() => sim.liveStores().every((s) => s.get('service-defaults', 'web')?.entry['Protocol'] === 'http2'), 5000) >= 0);
  await sim.shutdown();
});

for (const seed of [41, 42, 43]) test(`random writes and deletes on random agents under 10% loss converge to one state (seed ${seed})`, async (t) => {
  const sim = await entryCluster(6, { seed, loss: 0.1, config: { pushPullIntervalMs: 5000 } });
  const rnd = sim.c.random.fork();
  const protocols = ['tcp', 'http', 'http2', 'grpc'];
  for (let op = 0; op < 40; op++) {
    const store = sim.store(`node-${rnd.int(6)}`);
    const name = `svc-${rnd.int(4)}`;
    if (rnd.float() < 0.25) await store.delete('service-defaults', name);
    else await store.put(defaults(name, protocols[rnd.int(4)]!));
    await sim.c.run(rnd.int(300));
  }
  const fingerprint = (i: number): string => JSON.stringify([...Array(4).keys()].map((k) => [
    sim.store(`node-${i}`).get('service-defaults', `svc-${k}`)?.entry ?? null, sim.store(`node-${i}`).stampOf('service-defaults', `svc-${k}`),
  ]));
  const took = await sim.c.runUntil(() => [1, 2, 3, 4, 5].every((i) => fingerprint(i) === fingerprint(0)), 60_000);
  t.diagnostic(`converged ${took} ms after the last of 40 operations (virtual)`);
  assert.ok(took >= 0, 'all agents hold the same entries and stamps');
  await sim.shutdown();
});

test('a delete is a tombstone: a stale member that rejoins with the old entry does not bring it back', async (t) => {
  const root = await tempDir();
  const sim = new EntrySim({ seed: 33, dataRoot: root });
  await sim.start(6);
  await sim.c.run(1000);
  await sim.store('node-2').put(defaults('legacy'));
  // Up to a push-pull round: in a 6-member cluster a broadcast misses a member about 1% of the time.
  assert.ok(await sim.c.runUntil(() => sim.liveStores().every((s) => s.get('service-defaults', 'legacy') !== undefined), 40_000) >= 0);
  const addr = sim.c.node('node-3').addr;
  await sim.crash('node-3'); // its data directory still holds the entry
  await sim.c.run(2000);
  assert.equal(await sim.store('node-0').delete('service-defaults', 'legacy'), true);
  assert.ok(await sim.c.runUntil(() => sim.liveStores().every((s) => s.get('service-defaults', 'legacy') === undefined), 40_000) >= 0);
  await sim.c.run(30_000);

  const peek = new ConfigEntryStore({ nodeName: 'node-3', clock: sim.c.clock, dataDir: sim.dataDir('node-3') });
  await peek.load();
  assert.ok(peek.get('service-defaults', 'legacy') !== undefined, 'the stale member comes back with the old entry on disk');
  await sim.restart('node-3', addr, 'node-1');
  await sim.c.run(35_000); // several push-pull rounds with the old entry on offer
  for (const s of sim.liveStores()) {
    assert.equal(s.get('service-defaults', 'legacy'), undefined);
    assert.equal(s.stampOf('service-defaults', 'legacy')!.node, 'node-0', 'everyone holds the tombstone');
  }
  t.diagnostic(`tombstones held after rejoin: ${sim.liveStores().map((s) => s.tombstoneCount()).join(',')}`);
  await sim.shutdown();
  await fs.rm(root, { recursive: true });
});

test('tombstones are collected after the horizon, and an expired one is not taken back from a slow member', async () => {
  const sim = await entryCluster(3, { tuning: { tombstoneTtlMs: 60_000, gcIntervalMs: 10_000 } });
  await sim.store('node-0').put(defaults('x'));
  await sim.c.run(2000);
  await sim.store('node-0').delete('service-defaults', 'x');
  await sim.c.run(2000);
  assert.deepEqual(sim.liveStores().map((s) => s.tombstoneCount()), [1, 1, 1]);
  const stamp = sim.store('node-1').stampOf('service-defaults', 'x')!;
  await sim.c.run(75_000);
  assert.deepEqual(sim.liveStores().map((s) => s.tombstoneCount()), [0, 0, 0]);
  // A member that still had it offers the expired tombstone: not taken back.
  sim.muxes.get('node-1')!.notifyUser(Uint8Array.of(Channel.configEntries, ...encodeFullRecord(encodeRecord({
    kind: 'service-defaults', name: 'x', entry: undefined, ...stamp,
  }))));
  assert.equal(sim.store('node-1').tombstoneCount(), 0);
  await sim.shutdown();
});

test('a member partitioned away during writes catches up by anti-entropy after the partition heals', async (t) => {
  // Periodic push-pull is off so that only the exchange this test starts can repair; a long
  // suspicion timeout keeps the partitioned member alive in everyone's view (no failure, no rejoin).
  const sim = await entryCluster(8, { config: { pushPullIntervalMs: 0, suspicionMult: 30 } });
  const away = sim.c.node('node-6');
  sim.c.net.partition([away.addr], sim.c.nodes.filter((n) => n !== away).map((n) => n.addr));
  for (let i = 0; i < 5; i++) await sim.store(`node-${i}`).put(defaults(`svc-${i}`));
  await sim.store('node-7').put({ Kind: 'proxy-defaults', Config: { protocol: 'http' } });
  await sim.store('node-6').put(defaults('written-while-away'));
  await sim.c.run(3000);
  sim.c.net.heal();
  await sim.c.run(2000);
  assert.equal(sim.store('node-6').list().length, 1, 'broadcasts missed it');
  assert.equal(sim.store('node-0').get('service-defaults', 'written-while-away'), undefined);
  const start = sim.c.clock.now();
  await sim.c.settle(pushPull(sim.c.node('node-1').ml, sim.muxes.get('node-1'), away.addr, false));
  const took = await sim.c.runUntil(() => sim.store('node-6').list().length === 7 &&
    sim.liveStores().every((s) => s.get('service-defaults', 'written-while-away') !== undefined), 10_000);
  t.diagnostic(`both sides of the partition converged ${sim.c.clock.now() - start} ms after one push-pull (virtual)`);
  assert.ok(took >= 0);
  assert.deepEqual(sim.store('node-6').list().map((e) => e.entry.Name), ['global', 'svc-0', 'svc-1', 'svc-2', 'svc-3', 'svc-4', 'written-while-away']);
  await sim.shutdown();
});

test('periodic push-pull alone repairs a missed write (figure)', async (t) => {
  const sim = await entryCluster(8, { config: { pushPullIntervalMs: 10_000, suspicionMult: 30 } });
  const away = sim.c.node('node-6');
  sim.c.net.partition([away.addr], sim.c.nodes.filter((n) => n !== away).map((n) => n.addr));
  await sim.store('node-0').put(defaults('late'));
  await sim.c.run(3000);
  sim.c.net.heal();
  const took = await sim.c.runUntil(() => sim.store('node-6').get('service-defaults', 'late') !== undefined, 60_000);
  t.diagnostic(`missed write repaired ${took} ms after the partition healed (push-pull every 10 s per member)`);
  assert.ok(took >= 0 && took <= 20_000, `took ${took}`);
  await sim.shutdown();
});

test('a store whose file was corrupt recovers every entry from its peers when it rejoins', async () => {
  const root = await tempDir();
  const sim = new EntrySim({ seed: 35, dataRoot: root });
  await sim.start(4);
  await sim.c.run(1000);
  await sim.store('node-0').put(defaults('a'));
  await sim.store('node-1').put({ Kind: 'mesh', TransparentProxy: { MeshDestinationsOnly: true } });
  await sim.c.run(2000);
  const addr = sim.c.node('node-3').addr;
  await sim.crash('node-3');
  await fs.writeFile(join(root, 'node-3', CONFIG_ENTRIES_FILE), 'garbage');
  await sim.c.run(1000);
  const back = await sim.restart('node-3', addr, 'node-0');
  assert.ok(await sim.c.runUntil(() => back.list().length === 2, 5000) >= 0, 'recovered by the join push-pull');
  const files = await fs.readdir(join(root, 'node-3'));
  assert.ok(files.some((f) => f.startsWith(`${CONFIG_ENTRIES_FILE}.corrupt-`)), files.join(','));
  await sim.shutdown();
  await fs.rm(root, { recursive: true });
});

test('stopping every agent and starting them again loses no entry', async () => {
  const root = await tempDir();
  const sim = new EntrySim({ seed: 37, dataRoot: root });
  await sim.start(5);
  await sim.c.run(1000);
  for (let i = 0; i < 5; i++) await sim.store(`node-${i}`).put(defaults(`svc-${i}`));
  await sim.c.run(2000);
  assert.equal(await sim.store('node-2').delete('service-defaults', 'svc-0'), true);
  await sim.c.run(3000); // replicated changes are on disk within persistDelayMs of arriving
  await sim.shutdown(); // every agent stops

  const again = new EntrySim({ seed: 38, dataRoot: root });
  await again.c.addConverged(5);
  for (const n of again.c.nodes) {
    const s = new ConfigEntryStore({ nodeName: n.name, clock: again.c.clock, dataDir: join(root, n.name) });
    await s.load();
    assert.deepEqual(s.list().map((e) => e.entry.Name), ['svc-1', 'svc-2', 'svc-3', 'svc-4'], `${n.name} after restart`);
    assert.equal(s.tombstoneCount(), 1);
    await s.close();
  }
  await again.c.shutdown();
  await fs.rm(root, { recursive: true });
});

test('malformed channel-2 payloads are dropped and counted, never thrown', async () => {
  const sim = await entryCluster(3);
  const mux = sim.muxes.get('node-0')!;
  const s = sim.store('node-0');
  const idx = s.index();
  const rec = (entry: unknown, wallMs = 1): Uint8Array => encode([1, ['service-defaults', 'web', entry, wallMs, 0, 'node-1']]);
  const bad: Uint8Array[] = [
    Uint8Array.of(0xc1),
    encode([42]),
    rec({ Kind: 'service-defaults', Name: 'web', Protocol: 'udp' }), // fails kind validation
    rec({ Kind: 'service-defaults', Name: 'other' }), // entry does not match its key
    encode([1, ['no-such-kind', 'web', null, 1, 0, 'n']]),
    encode([1, ['service-defaults', 'web', null, -1, 0, 'n']]),
    encode([2, 'service-defaults', 'web', 1, 0, 'n', 'no-port', 'x:1']),
    encode([4, [['service-defaults', 'web']]]), // a request is not a broadcast
  ];
  for (const b of bad) mux.notifyUser(Uint8Array.of(Channel.configEntries, ...b));
  assert.equal(s.droppedTotal(), bad.length);
  // A stamp far in the future is refused (it would win every conflict).
  mux.notifyUser(Uint8Array.of(Channel.configEntries, ...encodeFullRecord(encodeRecord({
    kind: 'service-defaults', name: 'web', entry: { Kind: 'service-defaults', Name: 'web' }, hlc: { wallMs: sim.c.clock.wallNow() + 86_400_000, counter: 0 }, node: 'node-1',
  }))));
  assert.equal(s.stats().dropped.skew, 1);
  assert.equal(s.index(), idx, 'nothing applied');
  assert.equal(await mux.handleRequest(Uint8Array.of(Channel.configEntries, 0xc1)), undefined);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    mux.notifyUser(Uint8Array.of(Channel.configEntries, ...bytes));
    mux.mergeRemoteState(encode({ 2: bytes }), false);
    return s.index() === idx;
  }), { numRuns: 300 });
  await sim.shutdown();
});
