import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize } from '../../src/ca-client/intentions';
import type { ConfigEntry } from '../../src/config-entries';

const ixn = (name: string, sources: Array<Record<string, unknown>>): ConfigEntry => ({ Kind: 'service-intentions', Name: name, Sources: sources });
const caller = (service: string, trustDomain = 'shoal.test') => ({ trustDomain, namespace: 'default', service });
const base = { trustDomain: 'shoal.test', defaultPolicy: 'deny' as const };

test('exact rules beat wildcards; deny wins at equal precedence; the default applies when nothing matches', () => {
  const entries = [
    ixn('web', [{ Name: 'api', Action: 'allow' }, { Name: '*', Action: 'deny' }]),
    ixn('*', [{ Name: 'api', Action: 'deny' }, { Name: 'ops', Action: 'allow' }]),
    ixn('db', [{ Name: 'web', Action: 'allow' }, { Name: 'batch', Action: 'allow', Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/' } }] }]),
    ixn('cache', [{ Name: '*', Action: 'allow' }]),
  ];
  const table: Array<[target: string, from: string, policy: 'allow' | 'deny', authorized: boolean, why: RegExp]> = [
    ['web', 'api', 'deny', true, /web.*precedence 9.*allow|api => web/],
    ['web', 'other', 'allow', false, /\* => web/],
    ['web', 'ops', 'deny', false, /\* => web \(precedence 8\)/],
    ['mail', 'ops', 'deny', true, /ops => \* \(precedence 6\)/],
    ['mail', 'api', 'allow', false, /api => \*/],
    ['mail', 'nobody', 'allow', true, /default_intention_policy \(allow\)/],
    ['mail', 'nobody', 'deny', false, /default_intention_policy \(deny\)/],
    ['db', 'web', 'deny', true, /web => db/],
    ['db', 'batch', 'allow', false, /L7/],
    ['cache', 'api', 'deny', true, /\* => cache/],
  ];
  for (const [target, from, policy, authorized, why] of table) {
    const r = authorize(entries, { ...base, defaultPolicy: policy, target, caller: caller(from) });
    assert.equal(r.authorized, authorized, `${from} -> ${target}: ${r.reason}`);
    assert.match(r.reason, why, `${from} -> ${target}`);
  }
});

test('two entries giving the same pair opposite actions: deny wins', () => {
  const entries = [ixn('web', [{ Name: 'api', Action: 'allow' }]), ixn('web', [{ Name: 'api', Action: 'deny' }])];
  assert.equal(authorize(entries, { ...base, target: 'web', caller: caller('api') }).authorized, false);
  assert.equal(authorize([...entries].reverse(), { ...base, target: 'web', caller: caller('api') }).authorized, false);
});

test('callers from another trust domain are refused whatever the intentions say', () => {
  const r = authorize([ixn('web', [{ Name: '*', Action: 'allow' }])], { ...base, defaultPolicy: 'allow', target: 'web', caller: caller('api', 'evil.test') });
  assert.equal(r.authorized, false);
  assert.match(r.reason, /trust domain evil\.test/);
});

test('sources from peers and other namespaces do not match local callers', () => {
  const entries = [ixn('web', [{ Name: 'api', Peer: 'other', Action: 'allow' }, { Name: 'api', Namespace: 'team-b', Action: 'allow' }])];
  const r = authorize(entries, { ...base, target: 'web', caller: caller('api') });
  assert.equal(r.authorized, false);
  assert.match(r.reason, /no intention matched/);
});
