import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { SeededRandom } from '../../src/core/random';
import { Balancer } from '../../src/proxy/balancer';
import type { EndpointSpec, OutlierSpec } from '../../src/proxy/types';

const ep = (id: string): EndpointSpec => ({ id, node: id, host: '127.0.0.1', port: 21000, spiffeId: `spiffe://t/ns/default/dc/dc1/svc/api`, sni: 'api' });
const outlier: OutlierSpec = { consecutiveFailures: 3, baseEjectionMs: 10_000, maxEjectionPercent: 50 };

function setup(n: number, policy: 'round_robin' | 'least_request' | 'random' = 'round_robin', o = outlier) {
  const clock = new VirtualClock();
  const ejected: string[] = [];
  const b = new Balancer(policy, o, clock, new SeededRandom(7), { ejected: (e) => ejected.push(e.id) });
  const eps = Array.from({ length: n }, (_, i) => ep(`e${i}`));
  b.update(eps, policy, o);
  return { clock, b, ejected };
}

test('round robin visits every endpoint in turn', () => {
  const { b } = setup(3);
  const picks = Array.from({ length: 6 }, () => b.pick()!.id);
  assert.deepEqual(picks, ['e0', 'e1', 'e2', 'e0', 'e1', 'e2']);
});

test('pick skips excluded endpoints (retries go elsewhere) and gives up when all were tried', () => {
  const { b } = setup(3);
  const tried = new Set<string>();
  for (let i = 0; i < 3; i++) tried.add(b.pick(tried)!.id);
  assert.equal(tried.size, 3);
  assert.equal(b.pick(tried), undefined);
});

test('least request (power of two choices) prefers the endpoint with fewer open connections', () => {
  const { b } = setup(2, 'least_request');
  for (let i = 0; i < 10; i++) b.opened('e0');
  const counts = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const id = b.pick()!.id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.equal(counts.get('e1'), 100, 'with two endpoints both are always compared');
});

test('random spreads over every endpoint', () => {
  const { b } = setup(4, 'random');
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(b.pick()!.id);
  assert.equal(seen.size, 4);
});

test('consecutive failures eject for the base time, growing with each ejection; a success resets the run', () => {
  const { b, clock, ejected } = setup(4);
  b.failure('e1');
  b.failure('e1');
  b.success('e1');
  b.failure('e1');
  b.failure('e1');
  assert.deepEqual(ejected, [], 'the run was broken by a success');
  b.failure('e1');
  assert.deepEqual(ejected, ['e1']);
  const picks = new Set(Array.from({ length: 12 }, () => b.pick()!.id));
  assert.ok(!picks.has('e1'), 'ejected endpoints are not picked');
  clock.advance(10_000);
  assert.equal(b.ejectedCount(), 0, 'back after the base time');
  for (let i = 0; i < 3; i++) b.failure('e1');
  assert.deepEqual(ejected, ['e1', 'e1']);
  clock.advance(10_000);
  assert.equal(b.ejectedCount(), 1, 'the second ejection lasts twice as long');
  clock.advance(10_000);
  assert.equal(b.ejectedCount(), 0);
});

test('never more than max_ejection_percent ejected, though one always may be; all ejected still serves (panic)', () => {
  const { b, ejected } = setup(4, 'round_robin', { ...outlier, maxEjectionPercent: 10 });
  for (const id of ['e0', 'e1']) for (let i = 0; i < 3; i++) b.failure(id);
  assert.deepEqual(ejected, ['e0'], '10% of 4 rounds down to 0, yet one may be ejected');
  const single = setup(1);
  for (let i = 0; i < 3; i++) single.b.failure('e0');
  assert.equal(single.b.ejectedCount(), 1);
  assert.equal(single.b.pick()!.id, 'e0', 'with every endpoint ejected one is still tried');
});

test('an update keeps the state of endpoints that stay and drops the others', () => {
  const { b } = setup(3);
  for (let i = 0; i < 3; i++) b.failure('e2');
  assert.equal(b.ejectedCount(), 1);
  b.update([ep('e1'), ep('e2'), ep('e3')], 'round_robin', outlier);
  assert.equal(b.ejectedCount(), 1, 'e2 stays ejected');
  assert.equal(b.size, 3);
  b.update([ep('e1')], 'round_robin', outlier);
  assert.equal(b.ejectedCount(), 0);
  assert.equal(b.pick()!.id, 'e1');
});
