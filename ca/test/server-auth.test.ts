import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate, authorizeRequest, CaError, CaErrorCode, spiffeIdOfPeer, type AuthPolicy, type Caller, type Identity } from '../src';
import { agentId, serviceId } from './helpers';

const policy: AuthPolicy = {
  trustDomain: 'example.org', datacenter: 'dc1', bootstrapToken: 'tok',
  authorize: (node, dc, svc) => dc === 'dc1' && node === 'node-a' && svc === 'web',
};
const san = (uri: string): string => `URI:${uri}`;

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof CaError, String(err));
    return err.code;
  }
}

test('authenticate: table', () => {
  const rows: Array<[string, string | undefined, string | undefined, AuthPolicy, string]> = [
    ['agent certificate', san('spiffe://example.org/agent/dc/dc1/node/node-a'), undefined, policy, 'ok'],
    ['agent certificate wins over a wrong token', san('spiffe://example.org/agent/dc/dc1/node/node-a'), 'bad', policy, 'ok'],
    ['service certificate', san('spiffe://example.org/ns/default/dc/dc1/svc/web'), undefined, policy, CaErrorCode.forbidden],
    ['agent of another datacenter', san('spiffe://example.org/agent/dc/dc2/node/node-a'), undefined, policy, CaErrorCode.forbidden],
    ['agent of another trust domain', san('spiffe://other.org/agent/dc/dc1/node/node-a'), undefined, policy, CaErrorCode.forbidden],
    ['certificate with two SANs', `${san('spiffe://example.org/agent/dc/dc1/node/a')}, DNS:a`, undefined, policy, CaErrorCode.unauthenticated],
    ['certificate with a DNS SAN only', 'DNS:a.example.org', undefined, policy, CaErrorCode.unauthenticated],
    ['certificate without SAN', '', undefined, policy, CaErrorCode.unauthenticated],
    ['certificate with a non-SPIFFE URI', san('https://a'), undefined, policy, CaErrorCode.unauthenticated],
    ['right token', undefined, 'tok', policy, 'ok'],
    ['wrong token', undefined, 'tok2', policy, CaErrorCode.unauthenticated],
    ['no token', undefined, undefined, policy, CaErrorCode.unauthenticated],
    ['empty token', undefined, '', policy, CaErrorCode.unauthenticated],
    ['bootstrap disabled', undefined, 'tok', { ...policy, bootstrapToken: undefined }, CaErrorCode.unauthenticated],
    ['bootstrap disabled, empty token', undefined, '', { ...policy, bootstrapToken: '' }, CaErrorCode.unauthenticated],
  ];
  for (const [name, peer, token, p, want] of rows) assert.equal(code(() => authenticate(peer, token, p)), want, name);
});

test('authorizeRequest: table', () => {
  const nodeA: Caller = { kind: 'agent', identity: { kind: 'agent', trustDomain: 'example.org', datacenter: 'dc1', node: 'node-a' } };
  const boot: Caller = { kind: 'bootstrap' };
  const rows: Array<[string, Caller, Identity, string]> = [
    ['own agent certificate', nodeA, agentId('node-a'), 'ok'],
    ['another node\'s agent certificate', nodeA, agentId('node-b'), CaErrorCode.forbidden],
    ['registered service', nodeA, serviceId('web'), 'ok'],
    ['unregistered service', nodeA, serviceId('db'), CaErrorCode.forbidden],
    ['service in another datacenter', nodeA, serviceId('web', 'dc2'), CaErrorCode.forbidden],
    ['service in another trust domain', nodeA, serviceId('web', 'dc1', 'other.org'), CaErrorCode.forbidden],
    ['bootstrap: agent certificate', boot, agentId('node-q'), 'ok'],
    ['bootstrap: service certificate', boot, serviceId('web'), CaErrorCode.forbidden],
    ['bootstrap: agent of another datacenter', boot, agentId('node-q', 'dc2'), CaErrorCode.forbidden],
  ];
  for (const [name, caller, requested, want] of rows) assert.equal(code(() => authorizeRequest(caller, requested, policy)), want, name);
});

test('spiffeIdOfPeer takes exactly one URI SAN', () => {
  assert.equal(spiffeIdOfPeer('URI:spiffe://a/b'), 'spiffe://a/b');
  assert.equal(spiffeIdOfPeer('URI:spiffe://a/b, URI:spiffe://a/c'), undefined);
  assert.equal(spiffeIdOfPeer(undefined), undefined);
});
