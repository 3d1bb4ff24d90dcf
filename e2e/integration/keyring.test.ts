/**
 * Gossip encryption with real agent processes: a wrong key keeps an agent out (and both sides say
 * why), a full live rotation with the `shoal keyring` CLI disturbs nobody and is persisted, and
 * encryption is switched on in a live cluster with the verify_incoming/outgoing steps.
 *
 * Addresses (this file owns 127.0.1.30-59): wrong key .30-.33, rotation .34-.37, enabling .38-.41.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../agent/src/core/clock';
import { generateKey } from '../../agent/src/gossip/keyring';
import { Cluster, renderSightings, sample, waitFor, waitForViews, watchMembers, type LogLine, type TestAgent } from './harness';

const cluster = new Cluster('keyring');
after(() => cluster.cleanup());

const CONVERGE_MS = 5_000;

/** Declares agents `<prefix>0..n-1` on consecutive addresses; every one retry-joins the first two. */
function group(prefix: string, firstIp: number, n: number, args: (i: number) => string[] = () => []): TestAgent[] {
  const ip = (i: number): string => `127.0.1.${firstIp + i}`;
  const seeds = ['-retry-join', ip(0), '-retry-join', ip(1)];
  return Array.from({ length: n }, (_, i) => cluster.add({ name: `${prefix}${i}`, ip: ip(i), args: [...seeds, ...args(i)] }));
}

function allAlive(agents: readonly TestAgent[]): Record<string, string> {
  return Object.fromEntries(agents.map((a) => [a.name, 'alive']));
}

async function startAll(agents: readonly TestAgent[]): Promise<void> {
  await Promise.all(agents.map((a) => a.start()));
  await waitForViews('the cluster to converge', agents, allAlive(agents), CONVERGE_MS);
}

/** The first log line of `agent` after line `from` matching `pred`, polled for. */
function waitForLog(agent: TestAgent, what: string, pred: (l: LogLine) => boolean, from = 0, timeoutMs = 10_000): Promise<LogLine> {
  return waitFor(`${agent.name} to log ${what}`, () => agent.logLines().slice(from).find(pred), { timeoutMs, everyMs: 100 });
}

/**
 * A drop warning about a join stream. Its `peer` is the stream's source address, which on loopback
 * is 127.0.0.1:<ephemeral> whatever the dialling agent's bind address (outbound TCP is not bound to
 * bind_addr), so the line is tied to the intruder by time: none before it started, one after.
 */
function dropWarning(reason: string): (l: LogLine) => boolean {
  return (l) => l.level === 'warn' && l['reason'] === reason && l['channel'] === 'tcp' && /^127\.\d+\.\d+\.\d+:\d+$/.test(String(l['peer']));
}

/** `shoal keyring -list` parsed: key -> [holders, of] for installed and for primary keys. */
function parseList(stdout: string): { keys: Record<string, string>; primary: Record<string, string> } {
  const keys: Record<string, string> = {};
  const primary: Record<string, string> = {};
  let into: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    if (line === '  Keys:') into = keys;
    else if (line === '  Primary keys:') into = primary;
    else if (/^\S/.test(line) || /^ {2}\S/.test(line)) into = undefined;
    else {
      const m = /^\s{4}(\S+) \[(\d+\/\d+)\]$/.exec(line);
      if (m !== null && into !== undefined) into[m[1]!] = m[2]!;
    }
  }
  return { keys, primary };
}

test('an agent with a different gossip key never joins, and both sides log why', { timeout: 60_000 }, () => cluster.diagnose(async () => {
  const K1 = generateKey();
  const members = group('w', 30, 3, () => ['-encrypt', K1]);
  const intruder = cluster.add({ name: 'w-intruder', ip: '127.0.1.33', args: ['-retry-join', members[0]!.ip, '-encrypt', generateKey()] });
  await startAll(members);
  const watch = watchMembers(() => members, { flag: ['alive', 'suspect', 'dead', 'left'], members: [intruder.name], everyMs: 200 });
  let sightings;
  const mark = members[0]!.logLines().length;
  assert.equal(members[0]!.logLines().filter(dropWarning('decrypt')).length, 0, 'no decrypt warnings among agents sharing the key');
  try {
    await intruder.start();
    const seedWarning = await waitForLog(members[0]!, 'a warning about undecryptable gossip from the intruder', dropWarning('decrypt'), mark);
    assert.match(seedWarning.msg, /no installed key decrypts.*gossip key/);
    const joinFailure = await waitForLog(intruder, 'its failed join', (l) =>
      l.level === 'warn' && l.msg === 'retry_join: attempt failed' && JSON.stringify(l['errors']).includes('gossip key'));
    assert.match(JSON.stringify(joinFailure['errors']), new RegExp(`${members[0]!.ip.replace(/\./g, '\\.')}:7301.*same gossip key \\(encrypt\\)`));
    // Let the retry loop try again at least once (backoff 0.5-1 s) before concluding.
    await waitFor('a second failed join attempt', () => intruder.logLines().filter((l) => l.msg === 'retry_join: attempt failed').length >= 2,
      { timeoutMs: 10_000 });
  } finally {
    ({ sightings } = await watch.stop());
  }
  assert.deepEqual(sightings, [], `the intruder never appeared in a member list: ${renderSightings(sightings)}`);
  assert.deepEqual((await intruder.members()).map((m) => m.Name), [intruder.name], 'the intruder knows only itself');
  const metrics = await members[0]!.metrics();
  assert.ok(sample(metrics, 'shoal_gossip_packets_dropped_total', { pool: 'lan', reason: 'decrypt', channel: 'tcp' }) >= 2,
    'the seed counted the undecryptable join attempts');
  await intruder.kill9();
  await Promise.all(members.map((a) => a.kill9()));
}));

test('live key rotation with the CLI: install, use, remove; nobody is ever suspected; the keyring is persisted and wins on restart',
  { timeout: 120_000 }, () => cluster.diagnose(async () => {
    const K1 = generateKey();
    const K2 = generateKey();
    const agents = group('r', 34, 4, () => ['-encrypt', K1]);
    await startAll(agents);
    const operator = agents[2]!;
    const watch = watchMembers(() => agents, { flag: ['suspect', 'dead', 'left'], everyMs: 200 });
    let sightings;
    let polls = 0;
    try {
      const install = await operator.cli(['keyring', '-install', K2]);
      assert.equal(install.code, 0, `keyring -install: ${install.stderr}`);
      const listed = await operator.cli(['keyring', '-list']);
      assert.equal(listed.code, 0, `keyring -list: ${listed.stderr}`);
      const afterInstall = parseList(listed.stdout);
      assert.deepEqual(afterInstall.keys, { [K1]: '4/4', [K2]: '4/4' }, `after -install:\n${listed.stdout}`);
      assert.deepEqual(afterInstall.primary, { [K1]: '4/4' }, `after -install:\n${listed.stdout}`);

      const use = await operator.cli(['keyring', '-use', K2]);
      assert.equal(use.code, 0, `keyring -use: ${use.stderr}`);
      const remove = await operator.cli(['keyring', '-remove', K1]);
      assert.equal(remove.code, 0, `keyring -remove: ${remove.stderr}`);
      const final = await operator.cli(['keyring', '-list']);
      const afterRemove = parseList(final.stdout);
      assert.deepEqual(afterRemove.keys, { [K2]: '4/4' }, `after -remove:\n${final.stdout}`);
      assert.deepEqual(afterRemove.primary, { [K2]: '4/4' }, `after -remove:\n${final.stdout}`);
      // A few more probe rounds on the new key alone before judging.
      await systemClock.sleep(2_000);
    } finally {
      ({ sightings, polls } = await watch.stop());
    }
    assert.ok(polls >= 5, `the watcher polled during the rotation (${polls} polls)`);
    assert.deepEqual(sightings, [], `no member was suspect, failed or left during the rotation: ${renderSightings(sightings)}`);

    for (const a of agents) {
      const file = join(a.dataDir, 'keyring.json');
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { primary: K2, keys: [K2] }, `${a.name}'s keyring file holds only K2`);
      assert.equal(statSync(file).mode & 0o777, 0o600, `${a.name}'s keyring file mode`);
    }

    // Rolling restart with the old `encrypt = K1` still on the command line: each agent must come
    // back into a cluster that speaks only K2, which it can only do if the persisted keyring wins.
    for (const a of agents) {
      await a.restart();
      await waitForViews(`${a.name} to rejoin after its restart`, agents, allAlive(agents), CONVERGE_MS);
      const run = a.logLines({ currentRun: true });
      assert.ok(run.some((l) => l.level === 'warn' && /keyring file .* exists and wins/.test(l.msg)),
        `${a.name} warns that the keyring file wins over encrypt`);
      assert.equal(JSON.stringify(run).includes(K1) || JSON.stringify(run).includes(K2), false, `${a.name} never logs key material`);
    }
    const relisted = parseList((await agents[0]!.cli(['keyring', '-list'])).stdout);
    assert.deepEqual(relisted.keys, { [K2]: '4/4' }, 'after the restarts every member still holds only K2');
    await Promise.all(agents.map((a) => a.kill9()));
  }));

test('encryption switched on in a live cluster: verify_outgoing then verify_incoming, then plain agents are refused',
  { timeout: 120_000 }, () => cluster.diagnose(async () => {
    const K = generateKey();
    const agents = group('e', 38, 3);
    await startAll(agents);
    const steps: { incoming: boolean; outgoing: boolean }[] = [
      { incoming: false, outgoing: false }, // install the key: read encrypted, still send plain
      { incoming: false, outgoing: true }, // send encrypted; plain still accepted from the rest
      { incoming: true, outgoing: true }, // refuse plain input
    ];
    const watch = watchMembers(() => agents, { flag: ['suspect', 'dead'], everyMs: 200 });
    let sightings;
    try {
      for (const step of steps) {
        for (const a of agents) {
          await a.restart({ config: { encrypt: K, encrypt_verify_incoming: step.incoming, encrypt_verify_outgoing: step.outgoing } });
          await waitForViews(`${a.name} to rejoin with ${JSON.stringify(step)}`, agents, allAlive(agents), CONVERGE_MS);
        }
      }
    } finally {
      ({ sightings } = await watch.stop());
    }
    // Restarts make members leave and come back (left, then alive); they must never look failed.
    assert.deepEqual(sightings.filter((s) => s.state === 'dead'), [], `no member was declared failed: ${renderSightings(sightings)}`);
    for (const a of agents) {
      assert.equal((await a.self()).Stats['serf_lan']?.['encrypted'], 'true', `${a.name} gossips encrypted`);
    }
    const seed = agents[0]!;
    const before = sample(await seed.metrics(), 'shoal_gossip_packets_dropped_total', { pool: 'lan', reason: 'unencrypted', channel: 'tcp' });

    const plain = cluster.add({ name: 'e-plain', ip: '127.0.1.41', args: ['-retry-join', seed.ip] });
    const intruderWatch = watchMembers(() => agents, { flag: ['alive', 'suspect', 'dead', 'left'], members: [plain.name], everyMs: 200 });
    const mark = seed.logLines().length;
    assert.equal(seed.logLines().filter(dropWarning('unencrypted')).length, 0, 'no unencrypted-input warnings during the switch-over');
    try {
      await plain.start();
      const warning = await waitForLog(seed, 'a warning about unencrypted gossip', dropWarning('unencrypted'), mark);
      assert.match(warning.msg, /encryption is required/);
      const failure = await waitForLog(plain, 'its failed join', (l) => l.msg === 'retry_join: attempt failed');
      assert.match(JSON.stringify(failure['errors']), /closed the connection without answering.*gossip key/);
      await waitFor('two failed join attempts by the plain agent', () =>
        plain.logLines().filter((l) => l.msg === 'retry_join: attempt failed').length >= 2, { timeoutMs: 10_000 });
    } finally {
      ({ sightings } = await intruderWatch.stop());
    }
    assert.deepEqual(sightings, [], `the plain agent never appeared in a member list: ${renderSightings(sightings)}`);
    assert.deepEqual((await plain.members()).map((m) => m.Name), [plain.name]);
    const after = sample(await seed.metrics(), 'shoal_gossip_packets_dropped_total', { pool: 'lan', reason: 'unencrypted', channel: 'tcp' });
    assert.ok(after >= before + 2, `the seed counted the plain join attempts as unencrypted drops (${before} -> ${after})`);
    await waitForViews('the encrypted cluster to be whole', agents, allAlive(agents), CONVERGE_MS);
    await plain.kill9();
    await Promise.all(agents.map((a) => a.kill9()));
  }));
