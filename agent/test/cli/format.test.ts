import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnize, formatKeyringList, formatMembers } from '../../src/cli/format';
import { memberJson, type MemberJson } from '../../src/http';
import type { Member } from '../../src/gossip/member';

const m = (name: string, addr: string, state: Member['state'], tags: Record<string, string>): MemberJson =>
  memberJson({ name, addr, tags, state, incarnation: 1, protocol: 1, stateChangedAtMs: 0 });

const members = [
  m('web-2', '10.0.0.12:7301', 'suspect', { role: 'client', dc: 'dc1', build: '0.1.0:abc123' }),
  m('server-1', '10.0.0.2:7301', 'alive', { role: 'client,server', dc: 'dc1', build: '0.1.0', zone: 'a' }),
  m('web-1', '10.0.0.11:7301', 'dead', { role: 'client', dc: 'dc1', build: '0.1.0' }),
  m('old', '[fd00::5]:7301', 'left', { role: 'client', dc: 'dc2', build: '0.0.9' }),
];

test('members prints the columns of consul members, sorted by name, with Shoal statuses', () => {
  assert.equal(formatMembers(members), [
    'Node      Address         Status   Type    Build  Protocol  DC',
    'old       [fd00::5]:7301  left     client  0.0.9  1         dc2',
    'server-1  10.0.0.2:7301   alive    server  0.1.0  1         dc1',
    'web-1     10.0.0.11:7301  failed   client  0.1.0  1         dc1',
    'web-2     10.0.0.12:7301  suspect  client  0.1.0  1         dc1',
  ].join('\n'));
});

test('-detailed prints every tag as sorted k=v pairs; -status filters', () => {
  assert.equal(formatMembers(members, { detailed: true, status: /^alive$/ }), [
    'Node      Address        Status  Tags',
    'server-1  10.0.0.2:7301  alive   build=0.1.0,dc=dc1,role=client,server,zone=a',
  ].join('\n'));
  assert.equal(formatMembers(members, { status: /failed|left/ }).split('\n').length, 3);
});

test('members from a Consul agent (no State field) map serf status codes and role=consul', () => {
  const consul = { ...m('c1', '10.0.0.1:8301', 'alive', { role: 'consul', dc: 'dc1', build: '1.17.0:abc' }), State: undefined } as unknown as MemberJson;
  const failed = { ...m('c2', '10.0.0.2:8301', 'alive', { role: 'node', dc: 'dc1', build: '1.17.0' }), Status: 4, State: undefined } as unknown as MemberJson;
  assert.deepEqual(formatMembers([consul, failed]).split('\n').slice(1).map((l) => l.split(/\s+/).slice(2, 5)), [
    ['alive', 'server', '1.17.0'],
    ['failed', 'client', '1.17.0'],
  ]);
});

test('columnize pads every column but the last and trims trailing space', () => {
  assert.equal(columnize([['a', 'bb', ''], ['ccc', 'd', 'e']]), 'a    bb\nccc  d   e');
});

test('keyring list shows each key with holders out of members asked, primaries, and who failed', () => {
  const text = formatKeyringList([
    { WAN: true, Datacenter: '', Segment: '', Keys: { K1: 2 }, PrimaryKeys: { K1: 2 }, NumNodes: 2, NumResponses: 2, NumErrors: 0, Messages: {} },
    { WAN: false, Datacenter: 'dc1', Segment: '', Keys: { K1: 3, K2: 2 }, PrimaryKeys: { K1: 3 }, NumNodes: 4, NumResponses: 3, NumErrors: 1, Messages: { d: 'no answer within 1600 ms' } },
  ]);
  assert.equal(text, [
    '==> Gathering installed encryption keys...',
    '',
    'WAN:',
    '  Keys:',
    '    K1 [2/2]',
    '  Primary keys:',
    '    K1 [2/2]',
    '',
    'dc1 (LAN):',
    '  Keys:',
    '    K1 [3/4]',
    '    K2 [2/4]',
    '  Primary keys:',
    '    K1 [3/4]',
    '  Failed or did not answer (1):',
    '    d: no answer within 1600 ms',
  ].join('\n'));
});
