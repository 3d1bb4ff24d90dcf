import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../agent/src/core/clock';
import { TokenBucket } from '../src';

test('a bucket admits its burst at once, then one per 1/rate seconds', () => {
  const clock = new VirtualClock(0);
  const b = new TokenBucket({ ratePerSec: 10, burst: 3, clock });
  assert.deepEqual([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  assert.equal(b.waitMs(), 100);
  clock.advance(99);
  assert.equal(b.take(), false);
  clock.advance(1);
  assert.equal(b.take(), true);
  assert.equal(b.take(), false);
});

test('tokens never exceed the burst, however long the bucket was idle', () => {
  const clock = new VirtualClock(0);
  const b = new TokenBucket({ ratePerSec: 50, burst: 5, clock });
  clock.advance(3_600_000);
  let admitted = 0;
  while (b.take()) admitted++;
  assert.equal(admitted, 5);
});

test('over a long run the admitted rate converges to ratePerSec', () => {
  const clock = new VirtualClock(0);
  const b = new TokenBucket({ ratePerSec: 50, burst: 50, clock });
  let admitted = 0;
  // 1000 attempts per second for 60 s.
  for (let i = 0; i < 60_000; i++) {
    if (b.take()) admitted++;
    clock.advance(1);
  }
  assert.ok(admitted >= 50 * 60 && admitted <= 50 * 60 + 50 + 1, String(admitted));
});

test('a rate of 0 disables limiting (Consul csr_max_per_second = 0)', () => {
  const clock = new VirtualClock(0);
  const b = new TokenBucket({ ratePerSec: 0, burst: 1, clock });
  for (let i = 0; i < 1000; i++) assert.equal(b.take(), true);
  assert.equal(b.unlimited, true);
});

test('a clock that goes backwards adds no tokens', () => {
  let now = 1000;
  const clock = { ...new VirtualClock(0), now: () => now } as unknown as VirtualClock;
  const b = new TokenBucket({ ratePerSec: 1, burst: 1, clock });
  assert.equal(b.take(), true);
  now = 0;
  assert.equal(b.take(), false);
  now = 999;
  assert.equal(b.take(), false);
});

test('a burst below 1 is a configuration error', () => {
  assert.throws(() => new TokenBucket({ ratePerSec: 1, burst: 0, clock: new VirtualClock(0) }), /burst must be >= 1/);
});
