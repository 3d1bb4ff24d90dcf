import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caServers, caTags, memberCaView } from '../../src/ca-client/ca-tags';
import type { Member } from '../../src/gossip/member';
import { tagsBytes } from '../../src/gossip/membership';

const member = (name: string, state: Member['state'], tags: Record<string, string>, addr = '10.0.0.1:7301'): Member =>
  ({ name, addr, tags, state, incarnation: 1, protocol: 1, stateChangedAtMs: 0 });

test('CA servers are alive members with a valid ca_grpc tag, dialled at their gossip host', () => {
  const servers = caServers([
    member('s1', 'alive', { ca_grpc: '7501', ca_root: 'aa' }, '10.0.0.1:7301'),
    member('s2', 'suspect', { ca_grpc: '7501' }),
    member('s3', 'dead', { ca_grpc: '7501' }),
    member('s4', 'alive', { ca_grpc: 'x' }),
    member('s5', 'alive', { ca_grpc: '70000' }),
    member('c1', 'alive', {}),
    member('s6', 'alive', { ca_grpc: '17501' }, '[fd00::6]:7301'),
  ]);
  assert.deepEqual(servers, [{ node: 's1', addr: '10.0.0.1:7501', rootId: 'aa' }, { node: 's6', addr: '[fd00::6]:17501', rootId: '' }]);
});

test('tags round-trip through memberCaView; a member without CA tags does not participate', () => {
  const a = 'ab'.repeat(20);
  const b = 'cd'.repeat(20);
  const tags = caTags({ grpcPort: 7501, signerRootId: b, trustedRootIds: [b, a], leavesRootId: a });
  const [ta, tb] = [a.slice(0, 16), b.slice(0, 16)];
  assert.deepEqual(tags, { ca_trust: `${ta},${tb}`, ca_leaves: ta, ca_grpc: '7501', ca_root: tb }, 'ids in tags are 16 hex characters');
  const v = memberCaView(member('s1', 'suspect', { ...tags, role: 'client,server', dc: 'dc1' }));
  assert.deepEqual(v, { name: 's1', live: true, server: true, datacenter: 'dc1', participates: true, trust: [ta, tb], leaves: ta, signerRoot: tb });
  assert.equal(memberCaView(member('x', 'alive', { role: 'client' })).participates, false);
  assert.equal(memberCaView(member('y', 'left', tags)).live, false);
});

test('during a rotation the CA tags fit the 512-byte tag budget beside the agent tags at their largest', () => {
  const id = 'f'.repeat(40);
  const agent = {
    role: 'client,server', dc: 'd'.repeat(64), port_http: '65535', port_grpc: '65535', port_serf_lan: '65535', port_serf_wan: '65535',
    version: '10.20.30', build: '10.20.30:abcdef123456', region: 'r'.repeat(64), zone: 'z'.repeat(64),
  };
  const all = { ...agent, ...caTags({ grpcPort: 65535, signerRootId: id, trustedRootIds: [id, id.replace(/f/g, 'e')], leavesRootId: id }) };
  assert.ok(tagsBytes(all) <= 512, `${tagsBytes(all)} bytes`);
});
