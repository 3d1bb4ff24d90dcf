import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import { VirtualClock } from '../../src/core/clock';
import { DnsServer } from '../../src/dns';
import { waitFor } from '../agent/poll';
import { chk, FakeCatalog, nodeCat, sampleNodes, svc } from '../http/fake-catalog';
import { dataOf, query, tcpExchange, tcpQuery, udpQuery, udpRaw } from './client';

/** 40 instances of `big` on 40 nodes: far over 512 bytes as A or SRV records. */
function bigNodes(): ReturnType<typeof sampleNodes> {
  return Array.from({ length: 40 }, (_, i) => nodeCat({
    node: `big-node-${i}`, address: `10.9.0.${i + 1}`,
    services: [svc({ id: `big-${i}`, name: 'big', port: 7000 + i })],
    checks: [chk({ checkId: 'serfHealth' })],
  }));
}

const catalog = new FakeCatalog([...sampleNodes(), ...bigNodes()]);
const clock = new VirtualClock();
const server = new DnsServer({ catalog, datacenter: 'dc1', clock, maxTcpConnections: 4, tcpIdleTimeoutMs: 10_000 });
let port = 0;

before(async () => {
  await server.start('127.0.0.1', 0);
  port = server.address().port;
});
after(() => server.stop());

test('A over UDP: healthy instances, authoritative, RD echoed, no recursion offered', async () => {
  const r = await udpQuery(port, query('web.service.shoal', 'A'));
  assert.equal(r.type, 'response');
  assert.equal(r.rcode, 'NOERROR');
  assert.equal(r.flag_aa, true);
  assert.equal(r.flag_rd, true);
  assert.equal(r.flag_ra, false);
  assert.deepEqual(r.questions, [{ name: 'web.service.shoal', type: 'A', class: 'IN' }]);
  assert.deepEqual(dataOf(r.answers, 'A'), ['10.0.0.1', '10.0.0.33']);
  assert.ok(r.answers.every((a) => a.ttl === 0));
});

test('SRV over UDP carries the targets\' A records in the additional section', async () => {
  const r = await udpQuery(port, query('_web._tcp.service.shoal', 'SRV'));
  const targets = r.answers.map((a) => (a.data as { target: string }).target).sort();
  assert.deepEqual(targets, ['0a000021.addr.dc1.shoal', 'n1.node.dc1.shoal']);
  assert.deepEqual(r.additionals.filter((a) => a.type === 'A').map((a) => [a.name, a.data]).sort(), [
    ['0a000021.addr.dc1.shoal', '10.0.0.33'], ['n1.node.dc1.shoal', '10.0.0.1'],
  ]);
});

test('tag filter, node lookup, NXDOMAIN with SOA, REFUSED outside the domain', async () => {
  assert.deepEqual(dataOf((await udpQuery(port, query('primary.web.service.shoal', 'A'))).answers, 'A'), ['10.0.0.1']);
  assert.deepEqual(dataOf((await udpQuery(port, query('n2.node.shoal', 'A'))).answers, 'A'), ['10.0.0.2']);
  const nx = await udpQuery(port, query('missing.service.shoal', 'A'));
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.authorities[0]?.type, 'SOA');
  const refused = await udpQuery(port, query('example.com', 'A'));
  assert.equal(refused.rcode, 'REFUSED');
  assert.equal(refused.flag_aa, false);
  assert.equal(refused.answers.length, 0);
});

test('an instance that turns critical leaves the answers', async () => {
  const nodes = [...sampleNodes(), ...bigNodes()];
  nodes[0] = { ...nodes[0]!, checks: nodes[0]!.checks.map((c) => (c.checkId === 'service:web-1' ? { ...c, status: 'critical' as const } : c)) };
  catalog.set(nodes);
  assert.deepEqual(dataOf((await udpQuery(port, query('web.service.shoal', 'A'))).answers, 'A'), ['10.0.0.33']);
  catalog.set([...sampleNodes(), ...bigNodes()]);
});

test('over 512 bytes without EDNS: truncated with TC over UDP, complete over TCP', async () => {
  const udp = await udpQuery(port, query('big.service.shoal', 'SRV'));
  assert.equal(udp.flag_tc, true);
  assert.ok(udp.size <= 512, `UDP reply of ${udp.size} bytes`);
  assert.ok(udp.answers.length > 0 && udp.answers.length < 40, `${udp.answers.length} answers fit`);
  assert.equal(udp.additionals.length, 0);
  const tcp = await tcpQuery(port, query('big.service.shoal', 'SRV'));
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers.length, 40);
  assert.equal(tcp.additionals.length, 40);
  assert.ok(server.stats().truncated >= 1);
});

test('EDNS: the client\'s buffer size is honoured and an OPT record answers', async () => {
  const large = await udpQuery(port, query('big.service.shoal', 'A', { ednsBytes: 4096 }));
  assert.equal(large.flag_tc, false);
  assert.equal(large.answers.length, 40);
  assert.ok(large.size > 512);
  assert.equal(large.additionals.find((a) => a.type === 'OPT')?.udpPayloadSize, 4096);
  const small = await udpQuery(port, query('big.service.shoal', 'SRV', { ednsBytes: 1000 }));
  assert.equal(small.flag_tc, true);
  assert.ok(small.size <= 1000 && small.size > 512, `reply of ${small.size} bytes`);
  const badvers = await udpQuery(port, query('web.service.shoal', 'A', { ednsBytes: 1232, ednsVersion: 1 }));
  assert.equal(badvers.additionals.find((a) => a.type === 'OPT')?.extendedRcode, 1, 'BADVERS');
});

test('malformed, oversized and response datagrams are dropped and counted; the server keeps answering', async () => {
  const before = server.stats();
  assert.equal(await udpRaw(port, Buffer.from('nonsense'), 200), undefined);
  assert.equal(await udpRaw(port, Buffer.alloc(5000, 1), 200), undefined);
  const header = packet.encode(query('web.service.shoal', 'A'));
  // A question count of 40 with one question present: the decoder runs off the end.
  header.writeUInt16BE(40, 4);
  assert.equal(await udpRaw(port, header, 200), undefined);
  // A compression pointer that points at itself.
  const loop = Buffer.concat([packet.encode({ id: 9, type: 'query', questions: [] }).subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  loop.writeUInt16BE(1, 4);
  assert.equal(await udpRaw(port, loop, 200), undefined);
  assert.equal(await udpRaw(port, packet.encode({ id: 1, type: 'response', questions: [{ name: 'web.service.shoal', type: 'A' }] }), 200), undefined);
  const after = server.stats();
  assert.equal(after.droppedMalformed - before.droppedMalformed, 3);
  assert.equal(after.droppedOversize - before.droppedOversize, 1);
  assert.equal(after.droppedResponse - before.droppedResponse, 1);
  assert.equal((await udpQuery(port, query('web.service.shoal', 'A'))).rcode, 'NOERROR');
});

test('two questions are FORMERR; a non-QUERY opcode is NOTIMP', async () => {
  const two = packet.encode({ id: 7, type: 'query', questions: [{ name: 'a.service.shoal', type: 'A' }, { name: 'b.service.shoal', type: 'A' }] });
  assert.equal(packet.decode((await udpRaw(port, two))!).rcode, 'FORMERR');
  const notify = packet.encode({ id: 8, type: 'query', flags: 4 << 11, questions: [{ name: 'shoal', type: 'SOA' }] });
  assert.equal(packet.decode((await udpRaw(port, notify))!).rcode, 'NOTIMP');
});

test('TCP: several queries in one write, and one query split across writes', async () => {
  const a = packet.streamEncode(query('web.service.shoal', 'A'));
  const b = packet.streamEncode(query('n1.node.shoal', 'A'));
  const both = await tcpExchange(port, [Buffer.concat([a, b])], 2);
  assert.deepEqual(both.replies.map((r) => r.questions[0]!.name), ['web.service.shoal', 'n1.node.shoal']);
  const pieces = [a.subarray(0, 1), a.subarray(1, 7), a.subarray(7)];
  const split = await tcpExchange(port, pieces, 1);
  assert.equal(split.replies[0]!.rcode, 'NOERROR');
});

test('TCP: a malformed message or an oversized length closes the connection', async () => {
  const garbage = Buffer.from([0, 4, 1, 2, 3, 4]);
  const r = await tcpExchange(port, [garbage], 1);
  assert.equal(r.closed, true);
  assert.equal(r.replies.length, 0);
  const huge = Buffer.from([0xff, 0xff]);
  assert.equal((await tcpExchange(port, [huge], 1)).closed, true);
});

test('TCP: connections over the cap are refused; idle ones are closed by the sweep', async () => {
  const sockets = await Promise.all(Array.from({ length: 4 }, () => new Promise<ReturnType<typeof connect>>((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => undefined);
  })));
  const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
  await waitFor('the server to hold four connections', () => server.stats().tcpRejected === 0 && sockets.every((s) => !s.destroyed));
  const rejectedBefore = server.stats().tcpRejected;
  const fifth = await tcpExchange(port, [packet.streamEncode(query('web.service.shoal', 'A'))], 1);
  assert.equal(fifth.closed, true);
  assert.equal(server.stats().tcpRejected, rejectedBefore + 1);
  clock.advance(4_999);
  assert.ok(sockets.every((s) => !s.destroyed), 'not idle long enough yet');
  clock.advance(10_001);
  await Promise.all(closed);
  assert.equal(server.stats().tcpIdleClosed, 4);
  // The freed slots accept again.
  assert.equal((await tcpQuery(port, query('web.service.shoal', 'A'))).rcode, 'NOERROR');
});

test('respond() never throws on random bytes', () => {
  for (let i = 0; i < 2000; i++) {
    const len = (i * 7919) % 300;
    const buf = Buffer.alloc(len);
    for (let j = 0; j < len; j++) buf[j] = (i * 31 + j * 17 + (j * j) % 13) & 0xff;
    server.respond(buf, i % 2 === 0 ? 'udp' : 'tcp');
  }
});

test('start on a taken port names the address', async () => {
  const other = new DnsServer({ catalog, datacenter: 'dc1', clock });
  await assert.rejects(other.start('127.0.0.1', port), /cannot listen for DNS over (UDP|TCP) on 127\.0\.0\.1:\d+: address already in use/);
});

test('dig agrees (when installed)', { skip: spawnSync('dig', ['-v']).error !== undefined ? 'dig not installed' : false }, async () => {
  // Asynchronously: the server answers from this process's event loop.
  const dig = async (...args: string[]): Promise<string> =>
    (await promisify(execFile)('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], { encoding: 'utf8' })).stdout;
  assert.deepEqual((await dig('+short', 'web.service.shoal')).trim().split('\n').sort(), ['10.0.0.1', '10.0.0.33']);
  assert.match(await dig('+short', 'SRV', '_web._tcp.service.shoal'), /^1 1 8080 n1\.node\.dc1\.shoal\.$/m);
  assert.match(await dig('missing.service.shoal'), /status: NXDOMAIN/);
  assert.match(await dig('example.com'), /status: REFUSED/);
  // dig retries over TCP on TC and prints all 40.
  assert.equal((await dig('+short', '+noedns', 'SRV', 'big.service.shoal')).trim().split('\n').length, 40);
});
