/**
 * The in-memory network on a VirtualClock: every delay is virtual, so assertions are about when
 * things happen in simulated time and never about wall-clock durations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { SeededRandom } from '../../src/core/random';
import { MemoryNetwork, type MemoryNetworkOptions, type MemoryTransport, type MemoryTransportOptions, type Stream } from '../../src/transport';

interface Received {
  from: string;
  data: Buffer;
  at: number;
}

interface Node {
  t: MemoryTransport;
  addr: string;
  packets: Received[];
  streams: Stream[];
}

function world(options: Partial<MemoryNetworkOptions> = {}, seed = 1): { clock: VirtualClock; net: MemoryNetwork; node: (addr: string, o?: MemoryTransportOptions) => Promise<Node> } {
  const clock = new VirtualClock();
  const net = new MemoryNetwork({ clock, random: new SeededRandom(seed), ...options });
  const node = async (addr: string, o?: MemoryTransportOptions): Promise<Node> => {
    const n: Node = { t: net.transport(addr, o), addr, packets: [], streams: [] };
    await n.t.start((from, data) => n.packets.push({ from, data, at: clock.now() }), (s) => n.streams.push(s));
    return n;
  };
  return { clock, net, node };
}

/** Lets promise callbacks run after the clock fired timers. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Observes a promise without awaiting it, so a test can check it is still pending. */
function watch<T>(p: Promise<T>): { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: { reason?: string } } {
  const w: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: { reason?: string } } = { state: 'pending' };
  p.then(
    (value) => Object.assign(w, { state: 'fulfilled', value }),
    (error) => Object.assign(w, { state: 'rejected', error }),
  );
  return w;
}

async function advance(clock: VirtualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await flush();
}

/** Dials a -> b and returns both ends once the handshake completed in virtual time. */
async function connect(clock: VirtualClock, a: Node, b: Node): Promise<{ client: Stream; server: Stream }> {
  const dial = watch(a.t.dialStream(b.addr, 1_000));
  await advance(clock, 20); // a round trip at the largest latency + jitter the tests use
  assert.equal(dial.state, 'fulfilled');
  return { client: dial.value!, server: b.streams.at(-1)! };
}

const A = '10.0.0.1:7301';
const B = '10.0.0.2:7301';
const C = '10.0.0.3:7301';

test('datagrams arrive after the latency, never inside the send call', async () => {
  const { clock, node } = world({ latencyMs: 10 });
  const a = await node(A);
  const b = await node(B);
  const data = Buffer.from('ping');
  a.t.sendPacket(B, data);
  assert.equal(b.packets.length, 0);
  clock.advance(9.999);
  assert.equal(b.packets.length, 0);
  clock.advance(0.001);
  assert.deepEqual(b.packets.map((p) => [p.from, p.at]), [[A, 10]]);
  assert.equal(b.packets[0]!.data, data, 'the same buffer, not a copy');
});

test('zero latency still delivers asynchronously', async () => {
  const { clock, node } = world({ latencyMs: 0 });
  const a = await node(A);
  const b = await node(B);
  a.t.sendPacket(B, Buffer.from('x'));
  assert.equal(b.packets.length, 0);
  clock.advance(0);
  assert.equal(b.packets.length, 1);
});

test('jitter spreads arrivals within [latency, latency + jitter), reproducibly per seed', async () => {
  const arrivals = async (seed: number): Promise<number[]> => {
    const { clock, node } = world({ latencyMs: 1, jitterMs: 4 }, seed);
    const a = await node(A);
    const b = await node(B);
    for (let i = 0; i < 200; i++) a.t.sendPacket(B, Buffer.from([i]));
    clock.advance(10);
    return b.packets.map((p) => p.at);
  };
  const first = await arrivals(5);
  assert.equal(first.length, 200);
  assert.ok(first.every((at) => at >= 1 && at < 5));
  assert.ok(new Set(first).size > 100, 'arrival times actually vary');
  assert.deepEqual(await arrivals(5), first);
});

test('uniform loss drops about p of the datagrams, reproducibly per seed', async () => {
  const run = async (seed: number): Promise<{ delivered: number[]; stats: ReturnType<MemoryNetwork['stats']> }> => {
    const { clock, net, node } = world({ loss: 0.25 }, seed);
    const a = await node(A);
    const b = await node(B);
    for (let i = 0; i < 20_000; i++) {
      const data = Buffer.allocUnsafe(4);
      data.writeUInt32BE(i);
      a.t.sendPacket(B, data);
    }
    clock.advance(10);
    return { delivered: b.packets.map((p) => p.data.readUInt32BE(0)), stats: net.stats() };
  };
  const { delivered, stats } = await run(7);
  const lossRate = 1 - delivered.length / 20_000;
  assert.ok(lossRate > 0.23 && lossRate < 0.27, `loss rate ${lossRate}`);
  assert.equal(stats.packetsSent, 20_000);
  assert.equal(stats.packetsDelivered + stats.packetsDropped, 20_000);
  assert.deepEqual((await run(7)).delivered, delivered);
});

test('link loss applies to one link in both directions', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B);
  const c = await node(C);
  net.setLinkLoss(A, B, 1);
  a.t.sendPacket(B, Buffer.from('a>b'));
  b.t.sendPacket(A, Buffer.from('b>a'));
  a.t.sendPacket(C, Buffer.from('a>c'));
  clock.advance(5);
  assert.equal(a.packets.length + b.packets.length, 0);
  assert.equal(c.packets.length, 1);

  net.setLinkLoss(B, A, 0);
  a.t.sendPacket(B, Buffer.from('a>b'));
  clock.advance(5);
  assert.equal(b.packets.length, 1);
});

test('a partition cuts datagrams, dials and open streams until heal', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B);
  const c = await node(C);
  const { client, server } = await connect(clock, a, b);

  net.partition([A], [B, C]);
  a.t.sendPacket(B, Buffer.from('cut'));
  b.t.sendPacket(C, Buffer.from('same side'));
  clock.advance(5);
  assert.equal(b.packets.length, 0);
  assert.equal(c.packets.length, 1);

  const dial = watch(a.t.dialStream(B, 1_000));
  await advance(clock, 999);
  assert.equal(dial.state, 'pending', 'a partitioned host does not refuse, it is silent');
  await advance(clock, 1);
  assert.equal(dial.error?.reason, 'timeout');

  client.send(Buffer.from('lost'));
  const receive = watch(server.receive(500));
  await advance(clock, 500);
  assert.equal(receive.error?.reason, 'timeout');

  net.heal();
  a.t.sendPacket(B, Buffer.from('healed'));
  clock.advance(5);
  assert.equal(b.packets.length, 1);
  await connect(clock, a, b);

  client.send(Buffer.from('after heal'));
  const stillBroken = watch(server.receive(500));
  await advance(clock, 500);
  assert.equal(stillBroken.error?.reason, 'timeout', 'a stream that lost a frame never delivers past the gap');
});

test('a crashed node neither sends nor receives until restart', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B);
  const { client, server } = await connect(clock, a, b);
  const serverPending = watch(server.receive(5_000));

  net.crash(B);
  await flush();
  assert.equal(serverPending.error?.reason, 'closed', 'the crashed side of a stream is gone');
  const sentBefore = net.stats().packetsSent;
  b.t.sendPacket(A, Buffer.from('from the dead'));
  a.t.sendPacket(B, Buffer.from('to the dead'));
  clock.advance(5);
  assert.equal(a.packets.length + b.packets.length, 0);
  assert.equal(net.stats().packetsSent, sentBefore + 1, 'a dead node sends nothing');

  const clientPending = watch(client.receive(500));
  const dial = watch(a.t.dialStream(B, 1_000));
  await advance(clock, 999);
  assert.equal(clientPending.error?.reason, 'timeout', 'the peer hears nothing from a crashed host');
  assert.equal(dial.state, 'pending');
  await advance(clock, 1);
  assert.equal(dial.error?.reason, 'timeout');

  net.restart(B);
  a.t.sendPacket(B, Buffer.from('welcome back'));
  b.t.sendPacket(A, Buffer.from('hello again'));
  clock.advance(5);
  assert.equal(a.packets.length, 1);
  assert.equal(b.packets.length, 1);
  await connect(clock, a, b);
});

test('a closed address can be bound again; a live one cannot', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B);
  await assert.rejects(net.transport(B).start(() => {}, () => {}), { name: 'TransportError', reason: 'bind' });
  await b.t.close();
  a.t.sendPacket(B, Buffer.from('nobody home'));
  clock.advance(5);
  const b2 = await node(B);
  a.t.sendPacket(B, Buffer.from('new process'));
  clock.advance(5);
  assert.equal(b.packets.length, 0);
  assert.deepEqual(b2.packets.map((p) => p.data.toString()), ['new process']);
});

test('processing delay slows everything delivered to the slow node and nothing it sends', async () => {
  const { clock, net, node } = world({ latencyMs: 1 });
  const a = await node(A);
  const b = await node(B);
  const { client, server } = await connect(clock, a, b);
  const start = clock.now();
  net.setProcessingDelay(B, 100);
  a.t.sendPacket(B, Buffer.from('to slow'));
  b.t.sendPacket(A, Buffer.from('from slow'));
  client.send(Buffer.from('frame to slow'));
  const frame = watch(server.receive(1_000));
  await advance(clock, 100);
  assert.deepEqual(a.packets.map((p) => p.at - start), [1]);
  assert.equal(b.packets.length, 0);
  assert.equal(frame.state, 'pending');
  await advance(clock, 1);
  assert.deepEqual(b.packets.map((p) => p.at - start), [101]);
  assert.equal(frame.value?.toString(), 'frame to slow');
});

test('stream frames stay in order under jitter, and close ends the peer after its frames', async () => {
  const { clock, node } = world({ latencyMs: 1, jitterMs: 5 });
  const a = await node(A);
  const b = await node(B);
  const { client, server } = await connect(clock, a, b);
  assert.equal(client.remoteAddress, B);
  assert.equal(server.remoteAddress, A);

  for (let i = 0; i < 50; i++) client.send(Buffer.from([i]));
  server.send(Buffer.from('reply'));
  await advance(clock, 20);
  const got: number[] = [];
  for (let i = 0; i < 50; i++) got.push((await server.receive(1))[0]!);
  assert.deepEqual(got, [...Array(50).keys()]);
  assert.equal((await client.receive(1)).toString(), 'reply');

  client.send(Buffer.from('last words'));
  client.close();
  assert.throws(() => client.send(Buffer.from('x')), { name: 'TransportError', reason: 'closed' });
  await assert.rejects(client.receive(1), { reason: 'closed' });
  await advance(clock, 20);
  assert.equal((await server.receive(1)).toString(), 'last words');
  await assert.rejects(server.receive(1), { reason: 'closed' });
});

test('a pending receive rejects closed when the peer closes', async () => {
  const { clock, node } = world();
  const a = await node(A);
  const b = await node(B);
  const { client, server } = await connect(clock, a, b);
  const pending = watch(server.receive(5_000));
  client.close();
  await advance(clock, 5);
  assert.equal(pending.error?.reason, 'closed');
});

test('dialling a reachable address with no transport is refused at once', async () => {
  const { clock, node } = world();
  const a = await node(A);
  const dial = watch(a.t.dialStream(C, 10_000));
  await advance(clock, 5);
  assert.equal(dial.error?.reason, 'refused');
});

test('closing a transport closes its streams and pending dials', async () => {
  const { clock, node } = world({ latencyMs: 1 });
  const a = await node(A);
  const b = await node(B);
  const { server } = await connect(clock, a, b);
  const pending = watch(server.receive(5_000));
  const dial = watch(a.t.dialStream(B, 5_000));
  await a.t.close();
  await flush();
  assert.equal(dial.error?.reason, 'closed');
  await advance(clock, 5);
  assert.equal(pending.error?.reason, 'closed');
  await assert.rejects(a.t.dialStream(B, 5_000), { reason: 'closed' });
  await a.t.close();
});

test('packet and frame bounds are enforced on both sides', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B, { maxPacketBytes: 100, maxFrameBytes: 100 });
  assert.throws(() => b.t.sendPacket(A, Buffer.alloc(101)), { name: 'TransportError', reason: 'oversize' });
  assert.throws(() => a.t.sendPacket(B, Buffer.alloc(65_508)), { reason: 'oversize' });

  a.t.sendPacket(B, Buffer.alloc(200));
  clock.advance(5);
  assert.equal(b.packets.length, 0, 'the receiver keeps only datagrams within its bound');
  assert.equal(net.stats().packetsDropped, 1);

  const { client, server } = await connect(clock, a, b);
  assert.throws(() => server.send(Buffer.alloc(101)), { reason: 'oversize' });
  const pending = watch(server.receive(1_000));
  client.send(Buffer.alloc(200));
  await advance(clock, 5);
  assert.equal(pending.error?.reason, 'oversize');
  await assert.rejects(client.receive(1_000), { reason: 'closed' }, 'the sender sees a reset');
});

test('bytes are counted per sender across datagrams and frames', async () => {
  const { clock, net, node } = world();
  const a = await node(A);
  const b = await node(B);
  for (let i = 0; i < 3; i++) a.t.sendPacket(B, Buffer.alloc(100));
  const { server } = await connect(clock, a, b);
  server.send(Buffer.alloc(50));
  await advance(clock, 5);
  assert.equal(net.bytesSentBy(A), 300);
  assert.equal(net.bytesSentBy(B), 50);
  assert.equal(net.bytesSentBy(C), 0);
  assert.equal(net.stats().bytesSent, 350);
  assert.equal(net.stats().framesDelivered, 1);
});

test('five thousand nodes exchange a hundred thousand datagrams', async () => {
  const random = new SeededRandom(3);
  const { clock, net, node } = world({ latencyMs: 0.5, jitterMs: 0.2, loss: 0.01 });
  const nodes: Node[] = [];
  for (let i = 0; i < 5_000; i++) nodes.push(await node(`10.${i >> 8}.${i & 255}.1:7301`));
  const payload = Buffer.alloc(64);
  for (let round = 0; round < 20; round++) {
    for (const n of nodes) n.t.sendPacket(nodes[random.int(nodes.length)]!.addr, payload);
    clock.advance(1);
  }
  const stats = net.stats();
  assert.equal(stats.packetsSent, 100_000);
  assert.equal(stats.packetsDelivered + stats.packetsDropped, 100_000);
  assert.equal(nodes.reduce((sum, n) => sum + n.packets.length, 0), stats.packetsDelivered);
});
