import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicatedFetcher } from '../../src/catalog/replicated-fetch';
import type { NodeVersion } from '../../src/catalog/types';
import { VirtualClock } from '../../src/core/clock';

function harness(answer: (node: string, addr: string) => NodeVersion | 'fail', limits = { maxInFlight: 2, maxAttempts: 3, retryDelayMs: 100 }) {
  const clock = new VirtualClock();
  const have = new Map<string, NodeVersion>();
  const calls: string[] = [];
  let inFlight = 0;
  let maxSeen = 0;
  const fetcher = new ReplicatedFetcher({
    clock,
    have: (n) => have.get(n),
    fetch: async (node, addr) => {
      calls.push(`${node}@${addr}`);
      inFlight++;
      maxSeen = Math.max(maxSeen, inFlight);
      await clock.sleep(10);
      inFlight--;
      const r = answer(node, addr);
      if (r === 'fail') throw new Error('unreachable');
      have.set(node, r);
    },
  }, limits);
  return { clock, have, calls, fetcher, maxInFlight: () => maxSeen };
}

test('wants are deduplicated per node and bounded in flight', async () => {
  const h = harness(() => ({ generation: 1, seq: 5 }));
  for (const n of ['a', 'b', 'c', 'd']) {
    h.fetcher.want(n, { generation: 1, seq: 5 }, ['x:1']);
    h.fetcher.want(n, { generation: 1, seq: 4 }, ['y:1']);
  }
  await h.clock.advanceAsync(200, 1);
  assert.deepEqual(h.calls.sort(), ['a@x:1', 'b@x:1', 'c@x:1', 'd@x:1']);
  assert.equal(h.maxInFlight(), 2);
  assert.equal(h.fetcher.pending(), 0);
  h.fetcher.want('a', { generation: 1, seq: 5 }, ['x:1']);
  assert.equal(h.fetcher.pending(), 0, 'already held: nothing to do');
});

test('a failed or still-behind fetch tries the next address after a delay, then gives up', async () => {
  const h = harness((_n, addr) => (addr === 'dead:1' ? 'fail' : addr === 'stale:1' ? { generation: 1, seq: 1 } : { generation: 1, seq: 9 }));
  h.fetcher.want('a', { generation: 1, seq: 9 }, ['dead:1', 'stale:1', 'good:1']);
  await h.clock.advanceAsync(1000, 1);
  assert.deepEqual(h.calls, ['a@dead:1', 'a@stale:1', 'a@good:1']);
  assert.equal(h.fetcher.failures, 1);
  assert.deepEqual(h.have.get('a'), { generation: 1, seq: 9 });

  h.fetcher.want('b', { generation: 2, seq: 0 }, ['dead:1']);
  await h.clock.advanceAsync(2000, 1);
  assert.equal(h.calls.filter((c) => c.startsWith('b@')).length, 3, 'maxAttempts');
  assert.equal(h.fetcher.pending(), 0, 'left to anti-entropy');
});

test('cancel forgets a node (it failed or left)', async () => {
  const h = harness(() => 'fail');
  h.fetcher.want('a', { generation: 1, seq: 1 }, ['dead:1']);
  await h.clock.advanceAsync(20, 1);
  h.fetcher.cancel('a');
  await h.clock.advanceAsync(2000, 1);
  assert.equal(h.calls.length, 1);
});
