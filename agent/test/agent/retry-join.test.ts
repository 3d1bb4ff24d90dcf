import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, RetryJoiner } from '../../src/agent/retry-join';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import type { Random } from '../../src/core/random';
import type { JoinResult } from '../../src/gossip/memberlist';

const fixed = (v: number): Random => ({ float: () => v, int: (n) => Math.floor(v * n) });

test('backoff doubles from 1 s, is capped at retry_interval, and jitters within [d/2, d]', () => {
  const hi = fixed(0.999999);
  const table: [number, number][] = [[1, 1000], [2, 2000], [3, 4000], [4, 8000], [5, 16_000], [6, 30_000], [50, 30_000]];
  for (const [attempt, d] of table) {
    assert.ok(Math.abs(backoffDelayMs(attempt, 30_000, hi) - d) < 1, `attempt ${attempt}`);
    assert.equal(backoffDelayMs(attempt, 30_000, fixed(0)), d / 2, `attempt ${attempt}`);
  }
  assert.equal(backoffDelayMs(10, 5000, fixed(0)), 2500);
});

function harness(outcomes: boolean[], maxAttempts: number) {
  const clock = new VirtualClock();
  const calls: number[] = [];
  let gaveUp = -1;
  const joiner = new RetryJoiner({
    pool: 'lan', seeds: ['10.0.0.1'], capMs: 4000, maxAttempts, clock, random: fixed(0.5), logger: noopLogger,
    join: async (): Promise<JoinResult> => {
      calls.push(clock.now());
      const ok = outcomes.shift() ?? false;
      return ok ? { joined: 1, errors: [] } : { joined: 0, errors: [{ addr: '10.0.0.1:7301', error: 'refused' }] };
    },
    onGiveUp: (n) => (gaveUp = n),
  });
  return { clock, calls, joiner, gaveUp: () => gaveUp };
}

test('retries with backoff until a join succeeds, then stops', async () => {
  const h = harness([false, false, false, true], 0);
  h.joiner.start();
  const stepMs = 10;
  await h.clock.advanceAsync(60_000, stepMs);
  // Waits with jitter 0.5 are 3/4 of 1 s, 2 s, 4 s (the cap); the async join result lands on the
  // next virtual step, so each gap may be up to one step longer.
  const gaps = h.calls.slice(1).map((t, i) => t - h.calls[i]!);
  assert.equal(h.calls.length, 4);
  [750, 1500, 3000].forEach((want, i) => assert.ok(gaps[i]! >= want && gaps[i]! <= want + stepMs, `gap ${i}: ${gaps[i]}`));
  assert.equal(await h.joiner.done, true);
  assert.equal(h.gaveUp(), -1);
});

test('gives up after retry_max attempts and reports it', async () => {
  const h = harness([], 3);
  h.joiner.start();
  await h.clock.advanceAsync(60_000, 50);
  assert.equal(h.calls.length, 3);
  assert.equal(h.gaveUp(), 3);
  assert.equal(await h.joiner.done, false);
});

test('retry_max 0 retries forever, at most every retry_interval', async () => {
  const h = harness([], 0);
  h.joiner.start();
  await h.clock.advanceAsync(120_000, 100);
  const gaps = h.calls.slice(1).map((t, i) => t - h.calls[i]!);
  assert.ok(h.calls.length > 20, `attempts: ${h.calls.length}`);
  assert.ok(gaps.every((g) => g <= 4000));
  assert.equal(h.gaveUp(), -1);
  h.joiner.stop();
  const n = h.calls.length;
  await h.clock.advanceAsync(60_000, 100);
  assert.equal(h.calls.length, n, 'no attempts after stop');
});
