/**
 * Hostile input against a real agent's gossip port, with its cluster running: garbage, truncated,
 * oversized, mislabelled and corrupted datagrams, replayed valid datagrams (old-incarnation alive,
 * suspect and dead messages about a member, pings), and on the stream port garbage, a 1 GiB frame
 * header, silent connections and trickling ones. The agent must keep running, keep its membership
 * intact and count what it dropped, by reason, in /metrics. An encrypted variant checks that replayed
 * encrypted datagrams are refused as replays.
 *
 * Load is bounded: about 2000 datagrams per second (at most 50 of them 64 KiB), at most 150 attack
 * connections open at once and 60 opened per second; everything goes to 127.0.1.x.
 *
 * Addresses (this file owns 127.0.1.60-79): plain cluster .60-.62, encrypted .64-.66, attacker .69.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { systemClock } from '../../agent/src/core/clock';
import { systemRandom } from '../../agent/src/core/random';
import { encodeCompound, encodeMessage } from '../../agent/src/gossip/codec';
import { generateKey, Keyring } from '../../agent/src/gossip/keyring';
import type { Message } from '../../agent/src/gossip/messages';
import { crc32, PacketSealer } from '../../agent/src/gossip/packet';
import {
  Cluster, renderSightings, sample, SERF_LAN_PORT, waitForViews, watchMembers, type Samples, type TestAgent,
} from './harness';

const cluster = new Cluster('bad-input');
after(() => cluster.cleanup());

const ATTACKER_IP = '127.0.1.69';
const CONVERGE_MS = 5_000;
/** Datagrams per 20 ms tick: 2000 per second at most. */
const PACKETS_PER_TICK = 40;
const TICK_MS = 20;
/** Attack connections open at once, and opened per 50 ms tick (60 per second at most). */
const MAX_CONNECTIONS = 150;
const CONNECTIONS_PER_TICK = 3;
/** Silent and trickling connections are given up by us after this long if the agent has not closed them. */
const HOLD_MS = 14_000;
/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

/** Starts three agents, then restarts the third so that its incarnation is above 1 (see `replays`). */
async function startCluster(prefix: string, firstIp: number, key?: string): Promise<TestAgent[]> {
  const ip = (i: number): string => `127.0.1.${firstIp + i}`;
  const args = ['-retry-join', ip(0), '-retry-join', ip(1), ...(key === undefined ? [] : ['-encrypt', key])];
  const agents = [0, 1, 2].map((i) => cluster.add({ name: `${prefix}${i}`, ip: ip(i), args }));
  const allAlive = Object.fromEntries(agents.map((a) => [a.name, 'alive']));
  await Promise.all(agents.map((a) => a.start()));
  await waitForViews('the cluster to converge', agents, allAlive, CONVERGE_MS);
  // A graceful restart makes the member refute its own "left" with incarnation 2 or more, so
  // messages about it at incarnation 1 are genuinely old: what a replay of captured traffic holds.
  await agents[2]!.restart();
  await waitForViews('the restarted member to rejoin', agents, allAlive, CONVERGE_MS);
  return agents;
}

/** Everything sent, by kind, plus what came back. */
interface AttackStats {
  datagrams: Record<string, number>;
  connections: Record<string, number>;
  /** Silent or trickling connections the agent closed on its own before we gave up on them. */
  closedByAgent: number;
  maxOpen: number;
  datagramsBack: number;
  sendErrors: number;
}

/** Builds the datagram kinds for one target; `key` selects the encrypted variant. */
function datagramKinds(target: TestAgent, peer: TestAgent, old: TestAgent, oldTags: Record<string, string>, key: string | undefined): {
  kinds: Record<string, { weight: number; make: () => Buffer }>;
  replayKinds: string[];
} {
  const keyring = key === undefined ? null : Keyring.fromBase64([key]);
  const sealer = new PacketSealer({ label: 'dc1', keyring, verifyIncoming: true, verifyOutgoing: true, clock: systemClock });
  const otherLabel = new PacketSealer({ label: 'dc2', keyring, verifyIncoming: true, verifyOutgoing: true, clock: systemClock });
  const wrongKey = new PacketSealer({ label: 'dc1', keyring: Keyring.fromBase64([generateKey()]), verifyIncoming: true, verifyOutgoing: true, clock: systemClock });
  const plain = new PacketSealer({ label: 'dc1', keyring: null, verifyIncoming: true, verifyOutgoing: true, clock: systemClock });

  const ping: Message = { type: 'ping', seqNo: 4242, target: target.name, sourceNode: peer.name, sourceAddr: peer.gossipAddr };
  const aliveOld: Message = { type: 'alive', incarnation: 1, node: old.name, addr: old.gossipAddr, tags: oldTags, protocol: 1 };
  const suspectOld: Message = { type: 'suspect', incarnation: 1, node: old.name, from: peer.name };
  const deadOld: Message = { type: 'dead', incarnation: 1, node: old.name, from: peer.name };
  const bodies = [ping, aliveOld, suspectOld, deadOld].map((m) => encodeMessage(m));
  const valid = [...bodies, encodeCompound(bodies)];
  // Sealed once each, then sent again and again: byte-for-byte replays (same nonce when encrypted).
  const replays = valid.map((b) => sealer.seal(b));

  const pick = <T>(xs: readonly T[]): T => xs[systemRandom.int(xs.length)]!;
  const header = (flags: number, label = 'dc1'): Buffer => Buffer.concat([Buffer.from([1, flags, label.length]), Buffer.from(label)]);
  const withCrc = (body: Buffer): Buffer => {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([header(0), crc, body]);
  };
  // Pools built once: the attacker should spend its CPU sending, not generating.
  const pool = (n: number, make: () => Buffer): (() => Buffer) => {
    const xs = Array.from({ length: n }, make);
    return () => pick(xs);
  };
  const kinds: Record<string, { weight: number; make: () => Buffer }> = {
    // Random bytes: mostly an unknown envelope version.
    garbage: { weight: 10, make: pool(256, () => randomBytes(1 + systemRandom.int(1400))) },
    // A right envelope around a random body with a right CRC: the message decoder must refuse it.
    'garbage-body': { weight: 10, make: pool(256, () => withCrc(randomBytes(1 + systemRandom.int(1200)))) },
    'unknown-type': { weight: 3, make: () => sealer.seal(Buffer.from([99, 0x90])) },
    'push-pull-over-udp': { weight: 2, make: () => sealer.seal(encodeMessage({ type: 'pushPull', join: false, nodes: [] })) },
    // Decodes, but a node name with a control character breaks a protocol rule.
    'bad-name': { weight: 3, make: () => sealer.seal(encodeMessage({ ...aliveOld, node: 'evil\u0007node' } as Message)) },
    // Valid packets cut short anywhere (header, label, CRC or body).
    truncated: { weight: 10, make: () => { const p = pick(replays); return p.subarray(0, 1 + systemRandom.int(p.length - 1)); } },
    // Valid bodies cut short, then sealed properly: the msgpack inside is truncated.
    'truncated-body': { weight: 8, make: () => { const b = pick(bodies); return sealer.seal(b.subarray(0, 2 + systemRandom.int(b.length - 2))); } },
    // A compound whose length table promises more than the packet holds.
    'truncated-compound': { weight: 3, make: () => { const c = encodeCompound(bodies); return sealer.seal(c.subarray(0, c.length - 3)); } },
    oversize: { weight: 1, make: pool(4, () => Buffer.concat([header(key === undefined ? 0 : 1), randomBytes(MAX_DATAGRAM - 6)])) },
    'other-label': { weight: 5, make: () => otherLabel.seal(pick(bodies)) },
    'bad-crc': { weight: 8, make: () => { const p = Buffer.from(plain.seal(pick(bodies))); p[6] ^= 0xff; return p; } },
    'bad-version': { weight: 3, make: () => { const p = Buffer.from(pick(replays)); p[0] = 2; return p; } },
    replay: { weight: 34, make: () => pick(replays) },
  };
  if (key === undefined) {
    // Encrypted-looking input at an agent without a key.
    kinds['encrypted-flag'] = { weight: 3, make: () => Buffer.concat([header(1), randomBytes(64)]) };
  } else {
    kinds['wrong-key'] = { weight: 5, make: () => wrongKey.seal(pick(bodies)) };
    kinds['tampered'] = { weight: 5, make: () => { const p = Buffer.from(sealer.seal(pick(bodies))); p[p.length - 1] ^= 1; return p; } };
    kinds['plain'] = { weight: 5, make: () => plain.seal(pick(bodies)) };
  }
  return { kinds, replayKinds: ['replay'] };
}

/** Floods `target`'s UDP and TCP gossip port for `durationMs` at the bounded rates above. */
async function attack(target: TestAgent, peer: TestAgent, old: TestAgent, key: string | undefined, durationMs: number): Promise<AttackStats> {
  const oldTags = (await target.members()).find((m) => m.Name === old.name)!.Tags;
  const { kinds } = datagramKinds(target, peer, old, oldTags, key);
  const stats: AttackStats = { datagrams: {}, connections: {}, closedByAgent: 0, maxOpen: 0, datagramsBack: 0, sendErrors: 0 };
  const socket = dgram.createSocket('udp4');
  socket.on('message', () => stats.datagramsBack++);
  socket.on('error', () => stats.sendErrors++);
  await new Promise<void>((res) => socket.bind({ address: ATTACKER_IP, port: 0 }, () => res()));
  const open = new Set<net.Socket>();
  try {
    const deadline = systemClock.now() + durationMs;
    await Promise.all([
      floodDatagrams(socket, target, kinds, stats, deadline),
      floodStreams(target, open, stats, deadline),
    ]);
  } finally {
    for (const s of open) s.destroy();
    await new Promise<void>((res) => socket.close(() => res()));
  }
  return stats;
}

async function floodDatagrams(
  socket: dgram.Socket, target: TestAgent, kinds: Record<string, { weight: number; make: () => Buffer }>, stats: AttackStats, deadline: number,
): Promise<void> {
  const names = Object.keys(kinds);
  const total = names.reduce((n, k) => n + kinds[k]!.weight, 0);
  const choose = (): string => {
    let r = systemRandom.int(total);
    for (const k of names) if ((r -= kinds[k]!.weight) < 0) return k;
    return names[0]!;
  };
  const maxTicks = Math.ceil((deadline - systemClock.now()) / TICK_MS) + 1;
  for (let tick = 0; tick < maxTicks && systemClock.now() < deadline; tick++) {
    let oversizeThisTick = 0;
    for (let i = 0; i < PACKETS_PER_TICK; i++) {
      let kind = choose();
      if (kind === 'oversize' && oversizeThisTick++ > 0) kind = 'replay'; // at most one 64 KiB datagram per tick
      stats.datagrams[kind] = (stats.datagrams[kind] ?? 0) + 1;
      socket.send(kinds[kind]!.make(), SERF_LAN_PORT, target.ip, (err) => { if (err) stats.sendErrors++; });
    }
    await systemClock.sleep(TICK_MS);
  }
}

type StreamKind = 'garbage' | 'giant-frame' | 'framed-garbage' | 'silent' | 'trickle';
const STREAM_KINDS: readonly StreamKind[] = ['garbage', 'garbage', 'giant-frame', 'giant-frame', 'framed-garbage', 'silent', 'trickle'];

async function floodStreams(target: TestAgent, open: Set<net.Socket>, stats: AttackStats, deadline: number): Promise<void> {
  // Plain frames: a random body with a right CRC half of the time, a wrong CRC otherwise.
  const plain = new PacketSealer({ label: 'dc1', keyring: null, verifyIncoming: true, verifyOutgoing: true, clock: systemClock });
  const framedGarbage = (): Buffer => {
    const p = Buffer.from(plain.seal(randomBytes(1 + systemRandom.int(2000))));
    if (systemRandom.int(2) === 0) p[6] ^= 0xff;
    return p;
  };
  const trickling = new Map<net.Socket, number>();
  const frame = (body: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
  };
  const connect = (kind: StreamKind): void => {
    const s = net.connect({ host: target.ip, port: SERF_LAN_PORT, localAddress: ATTACKER_IP });
    const openedAt = systemClock.now();
    open.add(s);
    stats.maxOpen = Math.max(stats.maxOpen, open.size);
    stats.connections[kind] = (stats.connections[kind] ?? 0) + 1;
    s.on('error', () => {});
    s.on('close', () => {
      open.delete(s);
      trickling.delete(s);
      if ((kind === 'silent' || kind === 'trickle') && systemClock.now() - openedAt < HOLD_MS) stats.closedByAgent++;
    });
    s.on('connect', () => {
      switch (kind) {
        case 'garbage':
          s.end(randomBytes(1 + systemRandom.int(8192)));
          break;
        case 'giant-frame': {
          const h = Buffer.alloc(4);
          h.writeUInt32BE(1024 * 1024 * 1024); // announces 1 GiB
          s.write(Buffer.concat([h, randomBytes(64)]));
          break;
        }
        case 'framed-garbage':
          s.end(frame(framedGarbage()));
          break;
        case 'silent':
          break;
        case 'trickle': {
          const h = Buffer.alloc(4);
          h.writeUInt32BE(4096); // a frame that never completes at one byte per 500 ms
          s.write(h);
          trickling.set(s, systemClock.now());
          break;
        }
      }
    });
  };
  const maxTicks = Math.ceil((deadline - systemClock.now()) / 50) + 1;
  for (let tick = 0; tick < maxTicks && systemClock.now() < deadline; tick++) {
    for (let i = 0; i < CONNECTIONS_PER_TICK && open.size < MAX_CONNECTIONS; i++) connect(STREAM_KINDS[systemRandom.int(STREAM_KINDS.length)]!);
    const now = systemClock.now();
    for (const [s, last] of trickling) {
      if (now - last >= 500) {
        s.write(randomBytes(1));
        trickling.set(s, now);
      }
    }
    await systemClock.sleep(50);
  }
  // Give the agent time to close what is still open on its own (silent and trickling streams wait
  // for the stream timeout, 10 s in the LAN profile), then drop the rest ourselves.
  const until = systemClock.now() + HOLD_MS;
  for (let i = 0; i < HOLD_MS / 100 && open.size > 0 && systemClock.now() < until; i++) await systemClock.sleep(100);
}

const DROPPED = 'shoal_gossip_packets_dropped_total';

function dropDelta(before: Samples, after: Samples, reason: string, channel: 'udp' | 'tcp'): number {
  const labels = { pool: 'lan', reason, channel };
  return sample(after, DROPPED, labels) - sample(before, DROPPED, labels);
}

function renderDrops(before: Samples, after: Samples): string {
  const out: string[] = [];
  for (const [k, v] of after) {
    if (!k.startsWith(`${DROPPED}{`)) continue;
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.push(`${/reason="([^"]+)"/.exec(k)?.[1]}/${/channel="([^"]+)"/.exec(k)?.[1]}=${d}`);
  }
  return out.sort().join(' ');
}

/** Runs one attack and checks survival, membership and metrics; returns the metric deltas. */
async function attackAndCheck(t: TestContext, agents: TestAgent[], key: string | undefined, durationMs: number): Promise<{
  before: Samples; after: Samples; stats: AttackStats;
}> {
  const [target, peer, old] = agents as [TestAgent, TestAgent, TestAgent];
  const allAlive = Object.fromEntries(agents.map((a) => [a.name, 'alive']));
  const logMark = target.logLines().length;
  const before = await target.metrics();
  const watch = watchMembers(() => agents, { flag: ['suspect', 'dead', 'left'], everyMs: 200 });
  let stats: AttackStats;
  let sightings;
  let polls;
  try {
    stats = await attack(target, peer, old, key, durationMs);
  } finally {
    ({ sightings, polls } = await watch.stop());
  }
  const after = await target.metrics();
  t.diagnostic(`sent ${JSON.stringify(stats)}`);
  t.diagnostic(`drops counted: ${renderDrops(before, after)}`);
  t.diagnostic(`member polls: ${polls}; suspect sightings: ${sightings.filter((s) => s.state === 'suspect').length}`);

  assert.ok(target.running, `${target.name} is still running`);
  assert.ok(polls >= durationMs / 400, `membership was polled throughout the attack (${polls} polls)`);
  assert.deepEqual(sightings.filter((s) => s.state !== 'suspect'), [], `no member failed or left during the attack: ${renderSightings(sightings)}`);
  await waitForViews('all three alive on all three after the attack', agents, allAlive, CONVERGE_MS);
  const errors = target.logLines().slice(logMark).filter((l) => l.level === 'error' || l.level === 'fatal');
  assert.deepEqual(errors, [], `${target.name} logged no errors`);
  assert.ok(stats.maxOpen <= MAX_CONNECTIONS, 'the attack stayed within its connection bound');
  const held = (stats.connections['silent'] ?? 0) + (stats.connections['trickle'] ?? 0);
  assert.ok(held > 0, 'silent and trickling connections were tried');
  assert.equal(stats.closedByAgent, held, 'the agent itself closed every silent and trickling connection (stream timeout)');
  // A 1 GiB frame header is refused at once, and counted.
  assert.ok(dropDelta(before, after, 'oversize', 'tcp') > 0, `oversize frames counted: ${renderDrops(before, after)}`);
  return { before, after, stats: stats! };
}

test('an unencrypted agent survives 30 s of hostile datagrams and streams, keeps its membership and counts every kind of drop',
  { timeout: 120_000 }, (t) => cluster.diagnose(async () => {
    const agents = await startCluster('bi', 60);
    const { before, after, stats } = await attackAndCheck(t, agents, undefined, 30_000);
    const expect: [string, 'udp' | 'tcp'][] = [
      ['version', 'udp'], ['truncated', 'udp'], ['crc', 'udp'], ['label', 'udp'], ['malformed', 'udp'],
      ['unexpected', 'udp'], ['invalid', 'udp'], ['encrypted', 'udp'], ['crc', 'tcp'],
    ];
    for (const [reason, channel] of expect) {
      assert.ok(dropDelta(before, after, reason, channel) > 0, `reason="${reason}",channel="${channel}" increased: ${renderDrops(before, after)}`);
    }
    // The replayed membership messages reached the state machine (decoded, not dropped) and were
    // ignored there as old: the member they were about stayed alive all along (checked above).
    const decoded = (type: string): number =>
      sample(after, 'shoal_gossip_messages_received_total', { pool: 'lan', type }) - sample(before, 'shoal_gossip_messages_received_total', { pool: 'lan', type });
    const replays = stats.datagrams['replay'] ?? 0;
    assert.ok(decoded('dead') >= replays / 10, `replayed dead messages were decoded (${decoded('dead')} of about ${(2 * replays) / 5} sent)`);
    assert.ok(decoded('alive') >= replays / 10, `replayed alive messages were decoded (${decoded('alive')})`);
    assert.ok(stats.datagramsBack > 0, 'the agent kept answering the replayed pings');
  }));

test('an encrypted agent refuses replayed encrypted datagrams as replays (10 s)', { timeout: 90_000 }, (t) => cluster.diagnose(async () => {
  const key = generateKey();
  const agents = await startCluster('be', 64, key);
  const { before, after, stats } = await attackAndCheck(t, agents, key, 10_000);
  for (const [reason, channel] of [['replay', 'udp'], ['decrypt', 'udp'], ['unencrypted', 'udp'], ['truncated', 'udp'], ['label', 'udp'],
    ['version', 'udp'], ['unencrypted', 'tcp']] as const) {
    assert.ok(dropDelta(before, after, reason, channel) > 0, `reason="${reason}",channel="${channel}" increased: ${renderDrops(before, after)}`);
  }
  const replays = stats.datagrams['replay'] ?? 0;
  // Five distinct sealed packets were each accepted once; every later copy that arrived is a replay.
  const replayDrops = dropDelta(before, after, 'replay', 'udp');
  assert.ok(replayDrops >= replays / 2, `most of the ${replays} replayed datagrams were counted as replays (${replayDrops})`);
  assert.ok(replayDrops <= replays, `no more replays counted (${replayDrops}) than sent (${replays})`);
}));
