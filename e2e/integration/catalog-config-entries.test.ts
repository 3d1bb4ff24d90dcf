/**
 * Replicated config entries with five real agents: entries written through different agents (CLI
 * and HTTP) converge everywhere, concurrent writes of one entry end with one value everywhere, a
 * delete stays deleted even against an agent that was away holding the entry, invalid entries are
 * refused with every problem listed, entries survive a restart of the whole cluster, and an agent
 * whose store file is corrupt says so and recovers the entries from its peers.
 *
 * Addresses: agents c1-c5 on 127.0.4.31-35 (c1 is the seed). This file owns 127.0.4.30-39.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../agent/src/core/clock';
import { Cluster, http, since, waitFor, waitForViews, type TestAgent } from './harness';
import { canonicalEntries, getIndexed, recordValues, withoutIndexes } from './catalog-helpers';

const cluster = new Cluster('catalog-config-entries');
after(() => cluster.cleanup());

const SEED_IP = '127.0.4.31';
const agents: TestAgent[] = Array.from({ length: 5 }, (_, i) =>
  cluster.add({ name: `c${i + 1}`, ip: `127.0.4.${31 + i}`, args: i === 0 ? [] : ['-retry-join', SEED_IP] }));
const [c1, c2, c3, c4, c5] = agents as [TestAgent, TestAgent, TestAgent, TestAgent, TestAgent];
const allAlive = Object.fromEntries(agents.map((a) => [a.name, 'alive']));

const KINDS = ['service-defaults', 'service-resolver', 'service-splitter', 'service-intentions'] as const;
/**
 * Replication deadlines, as for membership (harness.ts, waitForConvergence): a write is broadcast
 * and relayed, so within 5 s every agent but at most one must hold it (dissemination works); a
 * member that missed every copy is repaired by push-pull anti-entropy (every 30 s), so within 35 s
 * all must (anti-entropy works).
 */
const DISSEMINATION_MS = 5_000;
const ANTI_ENTROPY_MS = 35_000;

/** Every kind's entries on `agent`, canonical (sorted, without the agent's own indexes). */
async function snapshot(agent: TestAgent): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const kind of KINDS) {
    const r = await getIndexed(agent.base, `/v1/config/${kind}`, { timeoutMs: 5_000 });
    out[kind] = r.status === 200 ? canonicalEntries(r.body) : `HTTP ${r.status}`;
  }
  return out;
}

/** How many of `snaps` differ from the most common one, and that one. */
function disagreement(snaps: readonly Record<string, string>[]): { majority: Record<string, string>; others: number } {
  const counts = new Map<string, number>();
  for (const s of snaps) counts.set(JSON.stringify(s), (counts.get(JSON.stringify(s)) ?? 0) + 1);
  const [top, n] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  return { majority: JSON.parse(top) as Record<string, string>, others: snaps.length - n };
}

/**
 * Waits until the agents in `which` hold the same entries: all but one within DISSEMINATION_MS,
 * all within ANTI_ENTROPY_MS. Resolves with the entries and both times.
 */
async function converged(what: string, which: readonly TestAgent[] = agents): Promise<{ entries: Record<string, string>; ms: number; allMs: number }> {
  const t0 = systemClock.now();
  let last: Record<string, string>[] = [];
  const describe = (): string => last.map((s, i) => `${which[i]!.name}: ${JSON.stringify(s)}`).join('\n');
  await waitFor(`${what} (all but one agent)`, async () => disagreement(last = await Promise.all(which.map(snapshot))).others <= 1,
    { timeoutMs: DISSEMINATION_MS, everyMs: 100, describe });
  const ms = since(t0);
  await waitFor(`${what} (every agent)`, async () => disagreement(last = await Promise.all(which.map(snapshot))).others === 0,
    { timeoutMs: ANTI_ENTROPY_MS - ms, everyMs: 200, describe });
  return { entries: last[0]!, ms, allMs: since(t0) };
}

/** One entry from `agent` without its indexes, or undefined on 404. */
async function entry(agent: TestAgent, kind: string, name: string): Promise<Record<string, unknown> | undefined> {
  const r = await getIndexed(agent.base, `/v1/config/${kind}/${name}`, { timeoutMs: 5_000 });
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, `${agent.name}: GET /v1/config/${kind}/${name} -> ${r.status}`);
  return withoutIndexes(r.body) as Record<string, unknown>;
}

async function putEntry(agent: TestAgent, body: unknown): Promise<{ status: number; text: string }> {
  return http(agent.base, 'PUT', '/v1/config', body);
}

function writeFile(name: string, text: string): string {
  const path = join(cluster.root, name);
  writeFileSync(path, text);
  return path;
}

/** The entries written in the first test; the later tests compare against them. */
let written: Record<string, string> = {};

test('five agents started through one seed see each other alive', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  await c1.start();
  await Promise.all(agents.slice(1).map((a) => a.start({ timeoutMs: 60_000 })));
  const took = await waitForViews('all 5 alive on all 5', agents, allAlive, 45_000);
  t.diagnostic(`converged ${took} ms after the last agent was up`);
}));

test('entries of four kinds written through different agents, by CLI and HTTP, converge to the same set on all five', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  // Before anything is written, every agent holds a blocking query on the entry (as a Consul
  // client's watch does): the first write of the cluster must wake all of them with a new index.
  const first = await Promise.all(agents.map((a) => getIndexed(a.base, '/v1/config/service-defaults/web', { timeoutMs: 5_000 })));
  assert.deepEqual(first.map((x) => x.status), agents.map(() => 404), 'no entry yet');
  const woken: ({ status: number; index: number; atMs: number } | undefined)[] = agents.map(() => undefined);
  const t0 = systemClock.now();
  const blocking = agents.map((a, i) => getIndexed(a.base, '/v1/config/service-defaults/web', { index: first[i]!.index, waitMs: 30_000 })
    .then((x) => (woken[i] = { status: x.status, index: x.index, atMs: since(t0) }), () => undefined));

  // c1: `shoal config write` of an HCL file (Consul's spelling).
  const defaults = writeFile('web-defaults.hcl', 'Kind = "service-defaults"\nName = "web"\nProtocol = "http"\nMeshGateway {\n  Mode = "local"\n}\n');
  let r = await c1.cli(['config', 'write', defaults]);
  assert.equal(r.code, 0, `config write (HCL) on c1: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'Config entry written: service-defaults/web');
  const written1 = since(t0);
  await waitFor('the first write to wake the blocking query on every agent', () => woken.every((w) => w !== undefined),
    { timeoutMs: DISSEMINATION_MS, everyMs: 20, describe: () => JSON.stringify({ before: first.map((x) => x.index), woken }) });
  await Promise.all(blocking);
  woken.forEach((w, i) => assert.ok(w!.status === 200 && w!.index > first[i]!.index,
    `${agents[i]!.name}: the blocking query returned the entry with a new X-Consul-Index (${first[i]!.index} -> ${JSON.stringify(w)})`));
  t.diagnostic(`first write: CLI done at ${written1} ms; blocking queries woken at ${woken.map((w, i) => `${agents[i]!.name}=${w!.atMs}`).join(' ')} ms`);
  // c2: HTTP PUT.
  const resolver = {
    Kind: 'service-resolver', Name: 'web', DefaultSubset: 'v1', ConnectTimeout: '5s',
    Subsets: { v1: { Filter: 'Service.Meta.version == v1' }, v2: { Filter: 'Service.Meta.version == v2' } },
  };
  let h = await putEntry(c2, resolver);
  assert.deepEqual([h.status, h.text], [200, 'true'], 'PUT /v1/config (resolver) on c2');
  // c3: `shoal config write` of a JSON file; the weights sum to 100.
  const splitter = { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 90, ServiceSubset: 'v1' }, { Weight: 10, ServiceSubset: 'v2' }] };
  r = await c3.cli(['config', 'write', writeFile('web-splitter.json', JSON.stringify(splitter))]);
  assert.equal(r.code, 0, `config write (JSON) on c3: ${r.stderr}`);
  // c4: HTTP PUT.
  h = await putEntry(c4, { Kind: 'service-intentions', Name: 'web', Sources: [{ Name: 'api', Action: 'allow' }, { Name: '*', Action: 'deny' }] });
  assert.deepEqual([h.status, h.text], [200, 'true'], 'PUT /v1/config (intentions) on c4');
  // c5: `shoal config write` of HCL with snake_case keys, which Consul accepts too.
  r = await c5.cli(['config', 'write', writeFile('api-defaults.hcl', 'kind = "service-defaults"\nname = "api"\nprotocol = "grpc"\n')]);
  assert.equal(r.code, 0, `config write (snake_case HCL) on c5: ${r.stderr}`);

  const { entries, ms, allMs } = await converged('the five agents to hold the same entries');
  written = entries;
  t.diagnostic(`all five agree ${allMs} ms after the last write (all but one after ${ms} ms)`);
  // And the set they agree on is the one written.
  assert.deepEqual(await entry(c5, 'service-defaults', 'web'), { Kind: 'service-defaults', Name: 'web', Protocol: 'http', MeshGateway: { Mode: 'local' } });
  assert.deepEqual(await entry(c1, 'service-defaults', 'api'), { Kind: 'service-defaults', Name: 'api', Protocol: 'grpc' });
  assert.deepEqual(await entry(c4, 'service-resolver', 'web'), resolver);
  assert.deepEqual(await entry(c1, 'service-splitter', 'web'), splitter);
  const intentions = await entry(c2, 'service-intentions', 'web');
  assert.deepEqual((intentions?.['Sources'] as { Name: string; Action: string }[]).map((s) => [s.Name, s.Action]), [['api', 'allow'], ['*', 'deny']]);
  // The CLI reads them back from any agent.
  r = await c2.cli(['config', 'list', '-kind', 'service-defaults']);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['api', 'web'], `config list on c2: ${r.stderr}`);
  r = await c4.cli(['config', 'read', '-kind', 'service-splitter', '-name', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(withoutIndexes(JSON.parse(r.stdout)), splitter, 'config read on c4');
}));

test('concurrent writes of the same entry on two agents end with the same value everywhere', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  const rounds = 5;
  for (let i = 0; i < rounds; i++) {
    const name = `race-${i}`;
    const [a, b] = await Promise.all([
      putEntry(c2, { Kind: 'service-defaults', Name: name, Protocol: 'http' }),
      putEntry(c4, { Kind: 'service-defaults', Name: name, Protocol: 'grpc' }),
    ]);
    assert.deepEqual([a.status, b.status], [200, 200], `both writes of ${name} accepted`);
  }
  const { allMs: ms } = await converged('every agent to settle on one value per raced entry');
  const winners: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const values = await Promise.all(agents.map((a) => entry(a, 'service-defaults', `race-${i}`)));
    const protocol = values[0]?.['Protocol'];
    assert.ok(protocol === 'http' || protocol === 'grpc', `race-${i} holds one of the written values, got ${JSON.stringify(values[0])}`);
    assert.deepEqual(values.map((v) => v?.['Protocol']), agents.map(() => protocol), `race-${i} is the same everywhere`);
    winners.push(String(protocol));
  }
  // Settled means settled: a while later nothing has changed (no late write flips a value back).
  const settled = await Promise.all(agents.map(snapshot));
  await systemClock.sleep(2_000);
  assert.deepEqual(await Promise.all(agents.map(snapshot)), settled, 'the converged values stay put');
  t.diagnostic(`converged ${ms} ms after the writes; winners: ${winners.join(' ')}`);
}));

test('a delete on one agent is seen everywhere and does not come back, even from an agent that was away holding the entry', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  // c4 leaves with the resolver in its data dir.
  const exit = await c4.terminate();
  assert.deepEqual(exit, { code: 0, signal: null }, 'c4 stops cleanly on SIGTERM');
  const r = await c5.cli(['config', 'delete', '-kind', 'service-resolver', '-name', 'web']);
  assert.equal(r.code, 0, `config delete on c5: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'Config entry deleted: service-resolver/web');
  const running = [c1, c2, c3, c5];
  const t0 = systemClock.now();
  await waitFor('the resolver to be gone on the running agents', async () =>
    (await Promise.all(running.map((a) => entry(a, 'service-resolver', 'web')))).every((e) => e === undefined), { timeoutMs: ANTI_ENTROPY_MS, everyMs: 50 });
  const gone = since(t0);

  // Every state the entry passes through on the agents that saw the delete, while c4 comes back.
  const present = (body: unknown): string => (withoutIndexes(body) as { Kind?: string }).Kind === 'service-resolver' ? 'present' : 'other';
  const recorders = running.map((a) => ({ a, rec: recordValues(a, '/v1/config/service-resolver/web', present) }));
  let observed: { name: string; values: string[] }[] = [];
  let c4Synced = -1;
  try {
    await c4.start();
    const t1 = systemClock.now();
    await waitFor('c4 to drop the deleted resolver', async () => (await entry(c4, 'service-resolver', 'web')) === undefined, { timeoutMs: ANTI_ENTROPY_MS, everyMs: 100 });
    c4Synced = since(t1);
    await converged('c4 to hold the same entries as the others');
    // Anti-entropy has run at least once by now (the join's push-pull); give relays time to misbehave.
    await systemClock.sleep(3_000);
  } finally {
    for (const { a, rec } of recorders) observed.push({ name: a.name, values: (await rec.stop()).observations.map((o) => o.value) });
  }
  observed = observed.filter((o) => JSON.stringify(o.values) !== JSON.stringify(['HTTP 404']));
  assert.deepEqual(observed, [], 'the deleted resolver never reappeared on an agent that saw the delete');
  for (const a of agents) assert.equal(await entry(a, 'service-resolver', 'web'), undefined, `${a.name}: the resolver stays deleted`);
  t.diagnostic(`delete seen on the 4 running agents in ${gone} ms; c4 dropped its stale copy ${c4Synced} ms after it was up`);
  written = (await converged('all five after the delete')).entries;
}));

test('an invalid entry (splitter weights summing to 90, an unknown field) is refused with every problem listed, and stored nowhere', { timeout: 30_000 }, () => cluster.diagnose(async () => {
  const bad = { Kind: 'service-splitter', Name: 'bad', Splits: [{ Weight: 60, ServiceSubset: 'v1' }, { Weight: 30, ServiceSubset: 'v2' }], Colour: 'blue' };
  // Over HTTP: 400, with the problems listed one by one.
  const h = await putEntry(c2, bad);
  assert.equal(h.status, 400, `PUT of the bad splitter: ${h.text}`);
  const body = JSON.parse(h.text) as { code: string; problems: { field: string; message: string }[] };
  assert.equal(body.code, 'SHOAL_ERR_VALIDATION');
  assert.deepEqual(body.problems.map((p) => `${p.field}: ${p.message}`).sort(), ['Colour: unknown field', 'Splits: weights must sum to 100, got 90']);
  // Through the CLI from an HCL file: exit 1, both problems on stderr.
  const file = writeFile('bad-splitter.hcl', 'Kind = "service-splitter"\nName = "bad"\nSplits = [\n  { Weight = 60, ServiceSubset = "v1" },\n' +
    '  { Weight = 30, ServiceSubset = "v2" },\n]\nColour = "blue"\n');
  const r = await c1.cli(['config', 'write', file]);
  assert.equal(r.code, 1, 'config write of the bad splitter fails');
  assert.match(r.stderr, /Colour: unknown field/);
  assert.match(r.stderr, /Splits: weights must sum to 100, got 90/);
  assert.doesNotMatch(r.stdout, /written/);
  for (const a of agents) assert.equal(await entry(a, 'service-splitter', 'bad'), undefined, `${a.name}: nothing stored`);
  assert.deepEqual(await snapshot(c3), written, 'the valid entries are untouched');
}));

test('after SIGTERM of all five and a restart over the same data dirs every entry is back on every agent', { timeout: 120_000 }, (t) => cluster.diagnose(async () => {
  const exits = await Promise.all(agents.map((a) => a.terminate()));
  assert.deepEqual(exits, agents.map(() => ({ code: 0, signal: null })), 'every agent stops cleanly on SIGTERM');
  await c1.start();
  await Promise.all(agents.slice(1).map((a) => a.start({ timeoutMs: 60_000 })));
  // Each agent read its own file: the count it logged at start is the whole set, the delete included.
  const liveCount = Object.values(written).reduce((n, list) => n + (JSON.parse(list) as unknown[]).length, 0);
  for (const a of agents) {
    const loaded = a.logLines({ currentRun: true }).find((l) => l.msg === 'config entries loaded' && l['entries'] !== undefined);
    assert.deepEqual([loaded?.['entries'], Number(loaded?.['tombstones']) >= 1], [liveCount, true],
      `${a.name} loaded ${liveCount} entries and the resolver's tombstone from disk: ${JSON.stringify(loaded)}`);
  }
  for (const a of agents) {
    // Counts, not contents: entries can be many and large, and the start log is not where they belong.
    const dumped = a.logLines({ currentRun: true }).filter((l) => JSON.stringify(l).includes('"Splits"'));
    assert.deepEqual(dumped, [], `${a.name} does not log the entries themselves at start`);
  }
  for (const a of agents) assert.deepEqual(await snapshot(a), written, `${a.name} holds every entry after the restart`);
  await waitForViews('all 5 alive again', agents, allAlive, 45_000);
  const { entries } = await converged('all five after the restart');
  assert.deepEqual(entries, written);
  t.diagnostic(`${liveCount} entries back on all five after a full restart`);
}));

test('a corrupt config-entries.json is reported at start and the entries are recovered from the peers', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  const exit = await c3.terminate();
  assert.deepEqual(exit, { code: 0, signal: null });
  const file = join(c3.dataDir, 'config-entries.json');
  assert.ok(existsSync(file), 'c3 has a store file to corrupt');
  writeFileSync(file, '{"Format":1,"Index":7,"Records":[{"Kind":"service-def');
  await c3.start();
  const t0 = systemClock.now();
  const report = c3.logLines({ currentRun: true }).find((l) => l.level === 'error' || (l.level as unknown) === 50);
  assert.ok(report !== undefined && /corrupt/.test(report.msg), `c3 logs the corruption: ${JSON.stringify(report)}`);
  assert.equal(report['path'], file, 'the log names the file');
  const aside = readdirSync(c3.dataDir).filter((n) => n.startsWith('config-entries.json.corrupt-'));
  assert.equal(aside.length, 1, `the corrupt file is kept aside for inspection: ${readdirSync(c3.dataDir).join(', ')}`);
  assert.equal(report['movedTo'], join(c3.dataDir, aside[0]!), 'the log says where the corrupt file went');
  await waitFor('c3 to recover every entry from its peers', async () => JSON.stringify(await snapshot(c3)) === JSON.stringify(written),
    { timeoutMs: ANTI_ENTROPY_MS, everyMs: 100, describe: async () => JSON.stringify(await snapshot(c3)) });
  t.diagnostic(`c3 recovered ${Object.keys(written).length} kinds of entries ${since(t0)} ms after it was up`);
  assert.equal(await entry(c3, 'service-resolver', 'web'), undefined, 'the deleted resolver does not come back through the recovery');
  // The recovered entries are on disk again (written within the store's persist delay).
  await waitFor('c3 to persist the recovered entries', () => existsSync(file), { timeoutMs: 5_000 });
}));
