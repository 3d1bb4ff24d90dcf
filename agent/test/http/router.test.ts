import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, type Route } from '../../src/http';

const h = (): { body: null } => ({ body: null });
const routes: Route[] = [
  { method: 'GET', path: '/v1/agent/members', handler: h },
  { method: 'PUT', path: '/v1/agent/join/:address', handler: h },
  { method: 'GET', path: '/v1/kv/*key', handler: h },
  { method: 'PUT', path: '/v1/kv/*key', handler: h },
  { method: 'GET', path: '/v1/catalog/service/:service', handler: h },
];

test('static paths, one-segment params and rest params match; params are decoded after matching', () => {
  const r = new Router(routes);
  assert.deepEqual(r.match('GET', '/v1/agent/members'), { kind: 'found', route: routes[0], params: {} });
  const join = r.match('PUT', '/v1/agent/join/%5B%3A%3A1%5D%3A7301');
  assert.equal(join.kind, 'found');
  assert.deepEqual(join.kind === 'found' && join.params, { address: '[::1]:7301' });
  // An encoded slash stays inside the parameter, as Consul KV keys arrive URL-encoded.
  const kv = r.match('GET', '/v1/kv/cfg%2Fa');
  assert.deepEqual(kv.kind === 'found' && kv.params, { key: 'cfg/a' });
  const deep = r.match('GET', '/v1/kv/a/b/c');
  assert.deepEqual(deep.kind === 'found' && deep.params, { key: 'a/b/c' });
  assert.deepEqual(r.match('GET', '/v1/catalog/service/').kind, 'none', 'an empty parameter does not match');
});

test('a path known under other methods is a 405 listing them; anything else is none', () => {
  const r = new Router(routes);
  assert.deepEqual(r.match('DELETE', '/v1/kv/x'), { kind: 'method', allowed: ['GET', 'PUT'] });
  assert.deepEqual(r.match('GET', '/v1/agent/members/extra'), { kind: 'none' });
});

test('duplicate routes are a programming error', () => {
  assert.throws(() => new Router([routes[0]!, routes[0]!]), /duplicate route GET \/v1\/agent\/members/);
});

test('malformed percent-encoding is a 400', () => {
  const r = new Router(routes);
  assert.throws(() => r.match('PUT', '/v1/agent/join/%E0%A4%A'), (err: Error & { status?: number }) => err.status === 400);
});
