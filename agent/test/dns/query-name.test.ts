import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hexToIp, ipToHex, parseQueryName } from '../../src/dns/query-name';

test('the name grammar: services, tags, RFC 2782, datacenters, nodes, addresses, connect', () => {
  const cases: Array<[string, unknown]> = [
    ['web.service.shoal', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined, connect: false }],
    ['WEB.Service.SHOAL.', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined, connect: false }],
    ['v1.web.service.shoal', { kind: 'service', service: 'web', tag: 'v1', datacenter: undefined, connect: false }],
    ['_web._tcp.service.shoal', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined, connect: false }],
    ['_web._v1.service.dc2.shoal', { kind: 'service', service: 'web', tag: 'v1', datacenter: 'dc2', connect: false }],
    ['web.service.dc2.shoal', { kind: 'service', service: 'web', tag: undefined, datacenter: 'dc2', connect: false }],
    ['node.service.shoal', { kind: 'service', service: 'node', tag: undefined, datacenter: undefined, connect: false }],
    ['web.connect.shoal', { kind: 'service', service: 'web', tag: undefined, datacenter: undefined, connect: true }],
    ['n1.node.shoal', { kind: 'node', node: 'n1', datacenter: undefined }],
    ['n1.node.dc1.shoal', { kind: 'node', node: 'n1', datacenter: 'dc1' }],
    ['0a000021.addr.dc1.shoal', { kind: 'addr', ip: '10.0.0.33', datacenter: 'dc1' }],
    ['shoal', { kind: 'apex' }],
    ['shoal.', { kind: 'apex' }],
    ['a.b.web.service.shoal', { kind: 'unknown' }],
    ['web.shoal', { kind: 'unknown' }],
    ['web.service.x.y.shoal', { kind: 'unknown' }],
    ['zz.addr.shoal', { kind: 'unknown' }],
    ['a.b.node.shoal', { kind: 'unknown' }],
    ['example.com', { kind: 'outside' }],
    ['web.service.consul', { kind: 'outside' }],
    ['xshoal', { kind: 'outside' }],
    ['.', { kind: 'outside' }],
  ];
  for (const [name, want] of cases) assert.deepEqual(parseQueryName(name, 'shoal'), want, name);
  assert.deepEqual(parseQueryName('web.service.mesh.example', 'mesh.example'), { kind: 'service', service: 'web', tag: undefined, datacenter: undefined, connect: false });
  assert.deepEqual(parseQueryName('web.service.example', 'mesh.example'), { kind: 'outside' });
});

test('addr labels round-trip IPv4 and IPv6 addresses', () => {
  assert.equal(ipToHex('10.0.0.33', 4), '0a000021');
  assert.equal(hexToIp('0a000021'), '10.0.0.33');
  assert.equal(ipToHex('fd00::3', 6), 'fd000000000000000000000000000003');
  assert.equal(hexToIp('fd000000000000000000000000000003'), 'fd00:0:0:0:0:0:0:3');
  assert.equal(ipToHex('::ffff:10.1.2.3', 6), '00000000000000000000ffff0a010203');
  fc.assert(fc.property(fc.ipV4(), (ip) => hexToIp(ipToHex(ip, 4)!) === ip));
  fc.assert(fc.property(fc.ipV6(), (ip) => {
    const hex = ipToHex(ip, 6)!;
    return hex.length === 32 && ipToHex(hexToIp(hex)!, 6) === hex;
  }));
});

test('parseQueryName never throws on arbitrary names', () => {
  fc.assert(fc.property(fc.string(), (s) => {
    parseQueryName(s, 'shoal');
  }));
});
