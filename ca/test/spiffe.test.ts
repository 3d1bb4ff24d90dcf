import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CaError, CaLocalErrorCode, parseSpiffeId, spiffeId, trustDomainUri, type Identity } from '../src';

test('service and agent identities round-trip through their SPIFFE IDs', () => {
  const svc: Identity = { kind: 'service', trustDomain: 'example.org', namespace: 'default', datacenter: 'dc1', service: 'web' };
  const agent: Identity = { kind: 'agent', trustDomain: 'example.org', datacenter: 'dc1', node: 'node-1.example' };
  assert.equal(spiffeId(svc), 'spiffe://example.org/ns/default/dc/dc1/svc/web');
  assert.equal(spiffeId(agent), 'spiffe://example.org/agent/dc/dc1/node/node-1.example');
  assert.deepEqual(parseSpiffeId(spiffeId(svc)), svc);
  assert.deepEqual(parseSpiffeId(spiffeId(agent)), agent);
  assert.equal(trustDomainUri('example.org'), 'spiffe://example.org');
});

test('parseSpiffeId refuses, with a reason, everything that is not one of the two shapes', () => {
  const cases: Array<[string, RegExp]> = [
    ['https://example.org/ns/default/dc/dc1/svc/web', /must start with "spiffe:\/\/"/],
    ['SPIFFE://example.org/ns/default/dc/dc1/svc/web', /must start with "spiffe:\/\/"/],
    ['spiffe://Example.org/ns/default/dc/dc1/svc/web', /trust domain "Example.org" may contain only lower-case/],
    ['spiffe://example.org:8443/ns/default/dc/dc1/svc/web', /trust domain .* may contain only/],
    ['spiffe://user@example.org/ns/default/dc/dc1/svc/web', /trust domain .* may contain only/],
    ['spiffe://example.org', /names only a trust domain/],
    ['spiffe:///ns/default/dc/dc1/svc/web', /1 to 255 characters/],
    ['spiffe://example.org/ns/default/dc/dc1/svc/', /service name must have 1 to 253/],
    ['spiffe://example.org/ns/default/dc/dc1/svc/web/', /neither/],
    ['spiffe://example.org/ns/default/dc/dc1/svc/w%20b', /service name "w%20b" may contain only/],
    ['spiffe://example.org/ns/default/dc/../svc/web', /datacenter "\.\." may contain only/],
    ['spiffe://example.org/ns/default/dc/dc1/svc/web?x=1', /service name "web\?x=1"/],
    ['spiffe://example.org/ns/default/dc/dc1/svc/web#f', /service name "web#f"/],
    ['spiffe://example.org/agent/dc/dc1/node', /neither/],
    ['spiffe://example.org/svc/web', /neither/],
    [`spiffe://example.org/ns/default/dc/dc1/svc/${'a'.repeat(3000)}`, /longer than 2048/],
  ];
  for (const [uri, pattern] of cases) {
    assert.throws(() => parseSpiffeId(uri), (err: unknown) => err instanceof CaError && err.code === CaLocalErrorCode.spiffeInvalid && pattern.test(err.message), uri);
  }
});

test('spiffeId refuses invalid parts', () => {
  assert.throws(() => spiffeId({ kind: 'service', trustDomain: 'example.org', namespace: 'default', datacenter: 'dc1', service: 'a/b' }), /service name "a\/b"/);
  assert.throws(() => spiffeId({ kind: 'agent', trustDomain: 'example.org', datacenter: '', node: 'n' }), /datacenter must have 1 to 253/);
});

test('fast-check: parseSpiffeId either returns an identity that prints back to the same string, or throws a CaError', () => {
  const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/);
  const uri = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), segment, segment, segment).map(([td, ns, dc, svc]) => `spiffe://${td}/ns/${ns}/dc/${dc}/svc/${svc}`),
    fc.tuple(fc.stringMatching(/^[a-z0-9._-]{1,12}$/), segment, segment).map(([td, dc, node]) => `spiffe://${td}/agent/dc/${dc}/node/${node}`),
  );
  fc.assert(
    fc.property(uri, (u) => {
      let id: Identity;
      try {
        id = parseSpiffeId(u);
      } catch (err) {
        assert.ok(err instanceof CaError);
        return;
      }
      assert.equal(spiffeId(id), u);
    }),
    { numRuns: 2000 },
  );
});
