/**
 * Membership with real agent processes (LAN profile, the default): seven agents join through one
 * seed, a `kill -9` is detected as a failure, the killed agent comes back over its data directory, a
 * graceful `shoal leave` shows as left (never failed), and `shoal members` prints Consul's columns.
 *
 * Addresses: 127.0.1.10-16 (this file owns 127.0.1.10-29).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../agent/src/core/clock';
import { Cluster, renderSightings, since, waitForConvergence, waitForViews, watchMembers, type TestAgent } from './harness';

const cluster = new Cluster('membership');
after(() => cluster.cleanup());

const SEED_IP = '127.0.1.10';
const agents: TestAgent[] = Array.from({ length: 7 }, (_, i) =>
  cluster.add({ name: `m${i}`, ip: `127.0.1.${10 + i}`, args: i === 0 ? [] : ['-retry-join', SEED_IP] }));
const names = agents.map((a) => a.name);
const allAlive = Object.fromEntries(names.map((n) => [n, 'alive']));

/**
 * Deadlines, the issue's: every member sees a join, rejoin or leave within 3 s (joins and leaves are
 * announced directly besides gossip), and a kill -9 is declared failed everywhere within 10 s. With
 * LAN defaults and N = 7 the minimum suspicion timeout is 3.6 s (suspicion_mult 4 x log10 8 x 1 s)
 * once two other members confirm, and every member that hears the suspicion probes the suspect next,
 * so confirmations arrive within about a second; without them it would take 21.6 s.
 */
const DISSEMINATION_MS = 3_000;
const ANTI_ENTROPY_MS = 3_000;
const FAILURE_DETECTION_MS = 10_000;

const victim = agents[3]!;
const leaver = agents[5]!;
let victimNodeId = '';

test('seven agents started with one seed see each other alive within 3 s of the last start', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  await agents[0]!.start();
  await Promise.all(agents.slice(1).map((a) => a.start()));
  // The clock starts when the last agent serves its API, i.e. has finished starting.
  const took = await waitForConvergence('all 7 alive on all 7', agents, allAlive, DISSEMINATION_MS, ANTI_ENTROPY_MS);
  const views = await Promise.all(agents.map((a) => a.members()));
  for (const [i, ms] of views.entries()) {
    assert.deepEqual(ms.map((m) => m.Name).sort(), [...names].sort(), `${names[i]} lists exactly the 7 members`);
    for (const m of ms) {
      assert.equal(m.Status, 1, `${names[i]} reports ${m.Name} with serf status alive (1)`);
      assert.equal(`${m.Addr}:${m.Port}`, agents[names.indexOf(m.Name)]!.gossipAddr, `${m.Name}'s advertised gossip address`);
    }
  }
  victimNodeId = String((await victim.self()).Config['NodeID']);
  t.diagnostic(`converged ${JSON.stringify(took)} (ms after the last agent was up)`);
}));

test('kill -9 of one agent: every other marks it failed within 10 s, and nobody else', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  const others = agents.filter((a) => a !== victim);
  const watch = watchMembers(() => others, { flag: ['suspect', 'dead'], members: others.map((a) => a.name), everyMs: 200 });
  const t0 = systemClock.now();
  await victim.kill9();
  let took = -1;
  let sightings;
  try {
    took = await waitForViews(`${victim.name} failed on all 6 others`, others, { [victim.name]: 'dead' }, FAILURE_DETECTION_MS);
  } finally {
    ({ sightings } = await watch.stop());
  }
  const statuses = await Promise.all(others.map(async (o) => (await o.members()).find((m) => m.Name === victim.name)?.Status));
  assert.deepEqual(statuses, others.map(() => 4), 'serf status failed (4) everywhere');
  assert.deepEqual(sightings.filter((s) => s.state === 'dead'), [], `no healthy member was declared dead: ${renderSightings(sightings)}`);
  t.diagnostic(`failure of ${victim.name} seen everywhere ${took} ms after kill -9 (${since(t0)} ms incl. checks)`);
}));

test('the killed agent restarted over the same data dir and address is alive everywhere within 3 s', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  await victim.start();
  const took = await waitForConvergence(`${victim.name} alive again on all 7`, agents, allAlive, DISSEMINATION_MS, ANTI_ENTROPY_MS);
  assert.equal(String((await victim.self()).Config['NodeID']), victimNodeId, 'the node ID persisted in the data dir is kept');
  const started = victim.logLines({ currentRun: true }).find((l) => l.msg === 'agent started');
  assert.equal(started?.['dataDir'], victim.dataDir, 'the restarted agent uses the same data directory');
  t.diagnostic(`${victim.name} rejoined: ${JSON.stringify(took)} (ms after it was up)`);
}));

test('shoal leave: the agent is shown as left (status 3) on every remaining agent and never as failed', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  const remaining = agents.filter((a) => a !== leaver);
  const watch = watchMembers(() => remaining, { flag: ['suspect', 'dead'], everyMs: 100 });
  let sightings;
  try {
    const r = await leaver.cli(['leave']);
    assert.equal(r.code, 0, `shoal leave exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout, /Graceful leave complete/);
    const exit = await leaver.waitExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the agent exits 0 after leaving');
    const took = await waitForConvergence(`${leaver.name} left on all 6 others`, remaining, { [leaver.name]: 'left' }, DISSEMINATION_MS, ANTI_ENTROPY_MS);
    t.diagnostic(`${leaver.name} left: ${JSON.stringify(took)} (ms after it exited)`);
    // Keep watching a while: a left member must never be probed into "failed" afterwards.
    await systemClock.sleep(3_000);
  } finally {
    ({ sightings } = await watch.stop());
  }
  // A member that missed the leave broadcast suspects the departed agent until anti-entropy tells it
  // "left", and a busy machine can cause a refuted false suspicion: reported, not failures. Being
  // shown as failed is.
  const suspects = sightings.filter((x) => x.state === 'suspect');
  if (suspects.length > 0) t.diagnostic(`suspicions during the leave: ${renderSightings(suspects)}`);
  assert.deepEqual(sightings.filter((x) => x.state === 'dead'), [], `nobody was shown as failed: ${renderSightings(sightings)}`);
  for (const o of remaining) {
    const m = (await o.members()).find((x) => x.Name === leaver.name);
    assert.equal(m?.Status, 3, `${o.name} reports ${leaver.name} with serf status left (3)`);
  }
}));

test('shoal members prints Node, Address, Status, Type, Build, Protocol and DC in aligned columns', { timeout: 30_000 }, () => cluster.diagnose(async () => {
  const observer = agents[0]!;
  const api = await observer.members();
  const r = await observer.cli(['members']);
  assert.equal(r.code, 0, `shoal members exit code; stderr: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  const header = lines[0]!;
  const columns = ['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC'];
  assert.deepEqual(header.split(/\s+/), columns);
  const starts = columns.map((c) => header.indexOf(c));
  const cells = (line: string): string[] => starts.map((s, i) => line.slice(s, starts[i + 1] ?? line.length).trim());
  const rows = lines.slice(1).map(cells);
  assert.deepEqual(rows.map((c) => c[0]), [...names].sort(), 'one row per member, sorted by name');
  for (const row of rows) {
    const [node, address, status, type, build, protocol, dc] = row as [string, string, string, string, string, string, string];
    const a = agents.find((x) => x.name === node)!;
    const m = api.find((x) => x.Name === node)!;
    assert.equal(address, a.gossipAddr, `${node} Address`);
    assert.equal(status, node === leaver.name ? 'left' : 'alive', `${node} Status`);
    assert.equal(type, 'client', `${node} Type`);
    assert.equal(build, (m.Tags['build'] ?? '').split(':')[0], `${node} Build`);
    assert.match(build, /^\d+\.\d+\.\d+/, `${node} Build is a version`);
    assert.equal(protocol, '1', `${node} Protocol`);
    assert.equal(dc, 'dc1', `${node} DC`);
  }
  for (const line of lines.slice(1)) {
    for (const [i, s] of starts.entries()) {
      if (i > 0) assert.equal(line.slice(s - 2, s), '  ', `column ${columns[i]} starts after a two-space gap in ${JSON.stringify(line)}`);
    }
  }

  const left = await observer.cli(['members', '-status', 'left']);
  assert.equal(left.code, 0);
  assert.deepEqual(left.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), [leaver.name], '-status left shows only the left member');

  const detailed = await observer.cli(['members', '-detailed']);
  assert.equal(detailed.code, 0);
  const dl = detailed.stdout.trim().split('\n');
  assert.deepEqual(dl[0]!.split(/\s+/), ['Node', 'Address', 'Status', 'Tags']);
  assert.match(dl[1]!, /dc=dc1/, '-detailed prints the tags');
  assert.match(dl[1]!, /role=client/);
}));
