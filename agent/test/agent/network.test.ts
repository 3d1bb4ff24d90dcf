import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseSeed, pickAdvertiseAddr, resolveSeeds } from '../../src/agent/network';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

test('a specific bind address is advertised as is', () => {
  assert.deepEqual(pickAdvertiseAddr('127.0.0.2', {}), { addr: '127.0.0.2', ambiguous: [] });
});

test('bound to 0.0.0.0: the first private IPv4 is advertised, and several are reported', () => {
  const ifs = { lo: [iface('127.0.0.1', 'IPv4', true)], eth0: [iface('203.0.113.5', 'IPv4'), iface('10.0.0.5', 'IPv4')], eth1: [iface('192.168.1.9', 'IPv4')] };
  assert.deepEqual(pickAdvertiseAddr('0.0.0.0', ifs), { addr: '10.0.0.5', ambiguous: ['10.0.0.5', '192.168.1.9'] });
  assert.deepEqual(pickAdvertiseAddr('0.0.0.0', { eth0: [iface('203.0.113.5', 'IPv4')] }), { addr: '203.0.113.5', ambiguous: [] });
  assert.deepEqual(pickAdvertiseAddr('0.0.0.0', { lo: [iface('127.0.0.1', 'IPv4', true)] }), { addr: '127.0.0.1', ambiguous: [] });
  assert.deepEqual(pickAdvertiseAddr('::', { eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::5', 'IPv6')] }), { addr: '2001:db8::5', ambiguous: [] });
});

test('seeds take the default port unless they carry one', () => {
  assert.deepEqual(parseSeed('10.0.0.1', 7301), { host: '10.0.0.1', port: 7301 });
  assert.deepEqual(parseSeed('10.0.0.1:8301', 7301), { host: '10.0.0.1', port: 8301 });
  assert.deepEqual(parseSeed('node.example', 7301), { host: 'node.example', port: 7301 });
  assert.deepEqual(parseSeed('[::1]:9', 7301), { host: '::1', port: 9 });
  assert.deepEqual(parseSeed('::1', 7301), { host: '::1', port: 7301 });
});

test('seeds resolve to ip:port; names that do not resolve are errors, not throws', async () => {
  const r = await resolveSeeds(['127.0.0.2', 'localhost:9000', '[::1]', 'no-such-host.invalid'], 7301);
  assert.ok(r.addrs.includes('127.0.0.2:7301'));
  assert.ok(r.addrs.includes('[::1]:7301'));
  assert.ok(r.addrs.some((a) => a.endsWith(':9000')));
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.addr, 'no-such-host.invalid');
  assert.match(r.errors[0]!.error, /cannot resolve no-such-host\.invalid/);
});
