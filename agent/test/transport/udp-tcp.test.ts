/**
 * The UDP+TCP transport on real loopback sockets (127.0.0.1, port 0). Waits are on socket events,
 * never on wall-clock durations; each test has a generous timeout only so a regression fails instead
 * of hanging.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import fc from 'fast-check';
import { systemClock, VirtualClock } from '../../src/core/clock';
import { FrameDecoder, splitHostPort, UdpTcpTransport, type Stream, type UdpTcpTransportOptions } from '../../src/transport';

const T = { timeout: 10_000 };

/** An async FIFO: what handlers push, tests await. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: ((item: T) => void)[] = [];

  readonly push = (item: T): void => {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  };

  next(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get size(): number {
    return this.items.length;
  }
}

interface Node {
  t: UdpTcpTransport;
  addr: string;
  port: number;
  packets: Inbox<{ from: string; data: Buffer }>;
  streams: Inbox<Stream>;
}

async function startNode(options: Partial<UdpTcpTransportOptions> = {}): Promise<Node> {
  const packets = new Inbox<{ from: string; data: Buffer }>();
  const streams = new Inbox<Stream>();
  const t = new UdpTcpTransport({ bindAddr: '127.0.0.1', bindPort: 0, clock: systemClock, ...options });
  await t.start((from, data) => packets.push({ from, data }), streams.push);
  return { t, addr: t.advertiseAddress, port: splitHostPort(t.advertiseAddress).port, packets, streams };
}

/** Starts the nodes, runs the body, and always closes them. */
async function withNodes(options: Partial<UdpTcpTransportOptions>[], body: (...nodes: Node[]) => Promise<void>): Promise<void> {
  const nodes: Node[] = [];
  try {
    for (const o of options) nodes.push(await startNode(o));
    await body(...nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.t.close()));
  }
}

/** Opens a stream a -> b and returns both ends. */
async function connect(a: Node, b: Node): Promise<{ client: Stream; server: Stream }> {
  const client = await a.t.dialStream(b.addr, 5_000);
  const server = await b.streams.next();
  return { client, server };
}

function rawConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });
}

function closed(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

function frame(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

test('datagrams flow both ways and carry the sender advertise address', T, () =>
  withNodes([{}, {}], async (a, b) => {
    a.t.sendPacket(b.addr, Buffer.from('ping'));
    const atB = await b.packets.next();
    assert.equal(atB.from, a.addr, 'UDP goes out from the bound port, so replies reach the sender');
    assert.equal(atB.data.toString(), 'ping');

    b.t.sendPacket(atB.from, new Uint8Array([1, 2, 3]));
    const atA = await a.packets.next();
    assert.equal(atA.from, b.addr);
    assert.deepEqual([...atA.data], [1, 2, 3]);

    assert.equal(a.t.stats().packetsOut, 1);
    assert.equal(a.t.stats().packetsIn, 1);
    assert.equal(b.t.stats().bytesIn, 4);
  }));

test('sendPacket throws oversize above maxPacketBytes and drops oversize datagrams on receive', T, () =>
  withNodes([{ maxPacketBytes: 100 }], async (a) => {
    assert.throws(() => a.t.sendPacket('127.0.0.1:9', Buffer.alloc(101)), { name: 'TransportError', reason: 'oversize' });
    const raw = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => raw.send(Buffer.alloc(200), a.port, '127.0.0.1', () => resolve()));
      await new Promise<void>((resolve) => raw.send(Buffer.from('ok'), a.port, '127.0.0.1', () => resolve()));
      const got = await a.packets.next();
      assert.equal(got.data.toString(), 'ok', 'the oversize datagram never reached the handler');
      assert.equal(a.t.stats().packetsDropped, 1);
    } finally {
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  }));

test('send errors are counted, not thrown', T, () =>
  withNodes([{}], async (a) => {
    a.t.sendPacket('not an address', Buffer.from('x'));
    assert.equal(a.t.stats().sendErrors, 1);
  }));

test('streams carry several frames both ways, including empty and multi-megabyte ones', T, () =>
  withNodes([{}, {}], async (a, b) => {
    const { client, server } = await connect(a, b);
    assert.equal(client.remoteAddress, b.addr);
    const big = pattern(5 * 1024 * 1024 + 7, 3); // far larger than one TCP read, so split across chunks
    const sent = [Buffer.from('one'), Buffer.alloc(0), big, Buffer.from('last')];
    for (const f of sent) client.send(f);
    for (const f of sent) assert.ok((await server.receive(5_000)).equals(f));

    server.send(Buffer.from('reply-1'));
    server.send(Buffer.from('reply-2'));
    assert.equal((await client.receive(5_000)).toString(), 'reply-1');
    assert.equal((await client.receive(5_000)).toString(), 'reply-2');

    client.close();
    await assert.rejects(server.receive(5_000), { name: 'TransportError', reason: 'closed' });
    server.close();
    assert.equal(a.t.stats().framesOut, 4);
    assert.equal(b.t.stats().framesIn, 4);
  }));

test('frames sent just before close are still delivered', T, () =>
  withNodes([{}, {}], async (a, b) => {
    const { client, server } = await connect(a, b);
    client.send(Buffer.from('state'));
    client.close();
    assert.throws(() => client.send(Buffer.from('late')), { name: 'TransportError', reason: 'closed' });
    assert.equal((await server.receive(5_000)).toString(), 'state');
    await assert.rejects(server.receive(5_000), { reason: 'closed' });
    server.close();
  }));

test('a frame over maxFrameBytes is refused on send and destroys the stream on receive', T, () =>
  withNodes([{}, { maxFrameBytes: 1024 }], async (a, b) => {
    const { client, server } = await connect(a, b);
    assert.throws(() => server.send(Buffer.alloc(1025)), { name: 'TransportError', reason: 'oversize' });
    const pending = server.receive(5_000);
    client.send(Buffer.alloc(2048));
    await assert.rejects(pending, { name: 'TransportError', reason: 'oversize' });
    await assert.rejects(client.receive(5_000), { reason: 'closed' }, 'the sender sees the connection drop');
    assert.equal(b.t.stats().streamErrors, 1);
    client.close();
    server.close();
  }));

test('an announced oversize length is rejected before its body arrives', T, () =>
  withNodes([{}], async (a) => {
    const raw = await rawConnect(a.port);
    const server = await a.streams.next();
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await assert.rejects(server.receive(5_000), { reason: 'oversize' });
    await closed(raw);
    server.close();
  }));

test('receive rejects timeout when no frame comes, and the stream stays usable', T, () =>
  withNodes([{}, {}], async (a, b) => {
    const { client, server } = await connect(a, b);
    await assert.rejects(client.receive(20), { name: 'TransportError', reason: 'timeout' });
    server.send(Buffer.from('after'));
    assert.equal((await client.receive(5_000)).toString(), 'after');
    client.close();
    server.close();
  }));

test('dialling a port nobody listens on rejects refused', T, () =>
  withNodes([{}], async (a) => {
    const probe = net.createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as net.AddressInfo).port)));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(a.t.dialStream(`127.0.0.1:${port}`, 5_000), { name: 'TransportError', reason: 'refused' });
  }));

test('a taken TCP port fails start with a bind error naming the address', T, () =>
  withNodes([{}], async (a) => {
    const b = new UdpTcpTransport({ bindAddr: '127.0.0.1', bindPort: a.port, clock: systemClock });
    await assert.rejects(b.start(() => {}, (s) => s.close()), (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'bind');
      assert.match(err.message, new RegExp(`^cannot bind gossip to 127\\.0\\.0\\.1:${a.port}: EADDRINUSE`));
      return true;
    });
    await b.close();
  }));

test('a taken UDP port fails start with a bind error too', T, async () => {
  const squatter = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', () => resolve()));
  const port = squatter.address().port;
  const t = new UdpTcpTransport({ bindAddr: '127.0.0.1', bindPort: port, clock: systemClock });
  try {
    await assert.rejects(t.start(() => {}, (s) => s.close()), (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'bind');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: EADDRINUSE`));
      return true;
    });
  } finally {
    await t.close();
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
  }
});

test('garbage on a TCP connection is dropped without harming the transport', T, () =>
  withNodes([{}, {}], async (a, b) => {
    const raw = await rawConnect(a.port);
    const server = await a.streams.next();
    raw.write('GET / HTTP/1.1\r\nHost: gossip\r\n\r\n'); // "GET " reads as a 1.2 GB length
    await closed(raw);
    await assert.rejects(server.receive(5_000), { reason: 'oversize' });
    server.close();

    const raw2 = await rawConnect(a.port);
    const server2 = await a.streams.next();
    raw2.destroy(); // reset mid-stream
    await assert.rejects(server2.receive(5_000), { reason: 'closed' });
    server2.close();

    b.t.sendPacket(a.addr, Buffer.from('still alive'));
    assert.equal((await a.packets.next()).data.toString(), 'still alive');
  }));

test('the idle guard destroys abandoned streams but spares ones with a pending receive', T, async () => {
  const clock = new VirtualClock();
  await withNodes([{ clock, idleTimeoutMs: 1_000 }], async (a) => {
    const abandoned = await rawConnect(a.port);
    await a.streams.next(); // the handler leaks it: never reads, never closes
    abandoned.write(Buffer.from([0, 0, 0, 100, 1, 2, 3])); // a frame that never completes

    const waiting = await rawConnect(a.port);
    const waitingStream = await a.streams.next();
    const reply = waitingStream.receive(60_000);

    clock.advance(1_600);
    await closed(abandoned);
    assert.equal(a.t.stats().streamErrors, 1);

    waiting.write(frame(Buffer.from('late but wanted')));
    assert.equal((await reply).toString(), 'late but wanted');
    waiting.destroy();
    waitingStream.close();
  });
});

test('inbound streams beyond maxStreams are destroyed on accept and counted', T, () =>
  withNodes([{ maxStreams: 1 }], async (a) => {
    const first = await rawConnect(a.port);
    const firstStream = await a.streams.next();
    const second = await rawConnect(a.port);
    await closed(second);
    assert.equal(a.t.stats().streamsRejected, 1);
    assert.equal(a.t.stats().streamsAccepted, 1);
    assert.equal(a.streams.size, 0, 'the rejected connection never reached the handler');
    firstStream.close();
    await closed(first);
  }));

test('close ends pending receives and dials, and is idempotent', T, async () => {
  const a = await startNode();
  const b = await startNode();
  try {
    const { client, server } = await connect(a, b);
    const clientPending = client.receive(5_000);
    const serverPending = server.receive(5_000);
    await a.t.close();
    await assert.rejects(clientPending, { reason: 'closed' });
    await assert.rejects(serverPending, { reason: 'closed' });
    await assert.rejects(a.t.dialStream(b.addr, 1_000), { reason: 'closed' });
    await a.t.close();
    assert.equal(a.t.stats().streamsOpen, 0);
    server.close();
  } finally {
    await Promise.all([a.t.close(), b.t.close()]);
  }
});

test('FrameDecoder reassembles frames from arbitrary fragments', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, cutSeeds) => {
        const wire = Buffer.concat(frames.map((f) => frame(Buffer.from(f))));
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
        const decoder = new FrameDecoder(1024);
        const out: Buffer[] = [];
        let at = 0;
        for (const cut of [...cuts, wire.length]) {
          assert.ok(decoder.push(wire.subarray(at, cut), out));
          at = cut;
        }
        assert.deepEqual(out.map((b) => [...b]), frames.map((f) => [...f]));
      },
    ),
  );
});

test('FrameDecoder refuses a header announcing more than the bound', () => {
  const decoder = new FrameDecoder(10);
  const out: Buffer[] = [];
  assert.equal(decoder.push(Buffer.concat([frame(Buffer.alloc(10)), Buffer.from([0, 0, 0, 11])]), out), false);
  assert.equal(out.length, 1, 'frames before the bad header are kept');
});

test('no socket handles are left open', async () => {
  // A closed handle is released in the loop's close phase, an iteration or two after its callback.
  const openSockets = (): string[] => process.getActiveResourcesInfo().filter((r) => /TCP|UDP/.test(r));
  for (let i = 0; i < 100 && openSockets().length > 0; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(openSockets(), []);
});
