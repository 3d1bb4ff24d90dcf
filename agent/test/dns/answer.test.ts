import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/random';
import { answerQuestion, Rcode, type AnswerOptions } from '../../src/dns/answer';
import { chk, FakeCatalog, nodeCat, sampleNodes, svc } from '../http/fake-catalog';
import { dataOf } from './client';

const catalog = new FakeCatalog(sampleNodes());
const opts: AnswerOptions = { domain: 'shoal', datacenter: 'dc1', serviceTtlSec: 0, nodeTtlSec: 0, onlyPassing: false, random: new SeededRandom(1) };
const ask = (name: string, type: string, o: Partial<AnswerOptions> = {}, c = catalog) => answerQuestion(c, { name, type, class: 'IN' }, { ...opts, ...o });

test('A: healthy instances only (critical hidden, warning served), node or service address', () => {
  const a = ask('web.service.shoal', 'A');
  assert.equal(a.rcode, Rcode.noError);
  // web-2 is critical; web-3 has its own address.
  assert.deepEqual(dataOf(a.answers, 'A'), ['10.0.0.1', '10.0.0.33']);
  assert.ok(a.answers.every((r) => r.ttl === 0 && r.name === 'web.service.shoal'));
  assert.deepEqual(dataOf(ask('redis.service.shoal', 'A').answers, 'A'), ['10.0.0.1'], 'warning is served by default');
  assert.equal(ask('redis.service.shoal', 'A', { onlyPassing: true }).rcode, Rcode.nxDomain, 'only_passing hides warning');
});

test('SRV: targets are node names (or addr names), with address records in the additional section', () => {
  const a = ask('_web._tcp.service.shoal', 'SRV');
  const srv = a.answers.map((r) => r.data as { priority: number; weight: number; port: number; target: string }).sort((x, y) => (x.target < y.target ? -1 : 1));
  assert.deepEqual(srv, [
    { priority: 1, weight: 5, port: 8080, target: '0a000021.addr.dc1.shoal' },
    { priority: 1, weight: 1, port: 8080, target: 'n1.node.dc1.shoal' },
  ]);
  assert.deepEqual(a.additionals.map((r) => [r.name, r.type, r.data]).sort(), [
    ['0a000021.addr.dc1.shoal', 'A', '10.0.0.33'],
    ['n1.node.dc1.shoal', 'A', '10.0.0.1'],
  ]);
});

test('tags filter, case-insensitively', () => {
  assert.deepEqual(dataOf(ask('primary.web.service.shoal', 'A').answers, 'A'), ['10.0.0.1']);
  assert.deepEqual(dataOf(ask('V1.web.service.shoal', 'A').answers, 'A'), ['10.0.0.1', '10.0.0.33']);
  assert.equal(ask('v2.web.service.shoal', 'A').rcode, Rcode.nxDomain, 'the only v2 instance is critical');
});

test('negative answers carry the SOA; a known name without data of the type is NOERROR', () => {
  const nx = ask('nope.service.shoal', 'A');
  assert.equal(nx.rcode, Rcode.nxDomain);
  assert.equal(nx.answers.length, 0);
  assert.equal(nx.authorities[0]!.type, 'SOA');
  assert.deepEqual(nx.authorities[0]!.data, { mname: 'ns.shoal', rname: 'hostmaster.shoal', serial: catalog.index(), refresh: 3600, retry: 600, expire: 86400, minimum: 0 });
  const nodata = ask('web.service.shoal', 'AAAA');
  assert.equal(nodata.rcode, Rcode.noError);
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities[0]!.type, 'SOA');
  assert.equal(ask('bogus.shoal', 'A').rcode, Rcode.nxDomain);
  assert.equal(ask('example.com', 'A').rcode, Rcode.refused);
  assert.equal(ask('shoal', 'SOA').answers[0]!.type, 'SOA');
});

test('node and addr lookups; the datacenter label must match', () => {
  assert.deepEqual(dataOf(ask('n1.node.shoal', 'A').answers, 'A'), ['10.0.0.1']);
  assert.deepEqual(dataOf(ask('N3.node.dc1.shoal', 'AAAA').answers, 'AAAA'), ['fd00::3']);
  assert.equal(ask('n3.node.shoal', 'A').rcode, Rcode.noError, 'an IPv6 node has no A record: NODATA');
  assert.equal(ask('n1.node.dc2.shoal', 'A').rcode, Rcode.nxDomain);
  assert.equal(ask('web.service.dc2.shoal', 'A').rcode, Rcode.nxDomain);
  assert.equal(ask('ghost.node.shoal', 'A').rcode, Rcode.nxDomain);
  assert.deepEqual(dataOf(ask('0a000021.addr.dc1.shoal', 'A').answers, 'A'), ['10.0.0.33']);
});

test('connect names resolve to sidecars; hostnames become CNAMEs; capitals in service names still match', () => {
  assert.deepEqual(dataOf(ask('web.connect.shoal', 'SRV').answers, 'SRV'), [JSON.stringify({ priority: 1, weight: 1, port: 21000, target: 'n1.node.dc1.shoal' })]);
  const c = new FakeCatalog([nodeCat({ node: 'x', services: [svc({ name: 'Billing', port: 1, address: 'billing.example.com' })], checks: [chk({ checkId: 'serfHealth' })] })]);
  const a = ask('billing.service.shoal', 'A', {}, c);
  assert.deepEqual(a.answers.map((r) => [r.type, r.data]), [['CNAME', 'billing.example.com']]);
  assert.deepEqual(ask('billing.service.shoal', 'SRV', {}, c).additionals, []);
});

test('answers are shuffled', () => {
  const many = new FakeCatalog([nodeCat({
    node: 'm', services: Array.from({ length: 8 }, (_, i) => svc({ id: `s${i}`, name: 's', port: 1000 + i, address: `10.1.0.${i + 1}` })),
  })]);
  const orders = new Set<string>();
  for (let i = 0; i < 20; i++) orders.add(ask('s.service.shoal', 'A', {}, many).answers.map((r) => r.data).join(','));
  assert.ok(orders.size > 1, 'different orders across queries');
});

test('TTLs are 0 by default and configurable per record family', () => {
  const a = ask('_web._tcp.service.shoal', 'SRV', { serviceTtlSec: 30, nodeTtlSec: 60 });
  assert.ok(a.answers.every((r) => r.ttl === 30));
  assert.ok(a.additionals.every((r) => r.ttl === 60));
  assert.equal(ask('n1.node.shoal', 'A', { nodeTtlSec: 60 }).answers[0]!.ttl, 60);
});

test('datacenter names compare without case', () => {
  const c = new FakeCatalog([nodeCat({ node: 'u', datacenter: 'DC1', services: [svc({ name: 'up', port: 1 })] })]);
  assert.deepEqual(dataOf(ask('up.service.dc1.shoal', 'A', {}, c).answers, 'A'), ['127.0.0.1']);
  assert.equal((ask('up.service.shoal', 'SRV', {}, c).answers[0]!.data as { target: string }).target, 'u.node.dc1.shoal');
});
