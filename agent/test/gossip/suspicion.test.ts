import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { remainingSuspicionTimeMs, Suspicion, suspicionTimeoutMs } from '../../src/gossip/suspicion';

test('suspicion timeout follows suspicionMult x log10(N+1) x probeInterval', () => {
  const cases: [number, number, number, number][] = [
    // mult, n, interval, expected
    [4, 1, 1000, 1204],
    [4, 7, 1000, 3612],
    [4, 9, 1000, 4000],
    [4, 99, 1000, 8000],
    [4, 999, 1000, 12000],
    [4, 4999, 1000, 14796],
    [6, 999, 5000, 90000],
  ];
  for (const [mult, n, interval, want] of cases) {
    assert.equal(suspicionTimeoutMs(mult, n, interval), want, `mult=${mult} n=${n}`);
  }
});

test('remaining time decays from max to min with confirmations (log-scaled)', () => {
  const min = 2000;
  const max = 30000;
  const k = 3;
  const table: [number, number][] = [
    [0, 30000],
    [1, 16000], // 30000 - 0.5 * 28000
    [2, 7810], // floor(30000 - log(3)/log(4) * 28000)
    [3, 2000],
    [4, 2000], // never below min
  ];
  for (const [c, want] of table) assert.equal(remainingSuspicionTimeMs(c, k, 0, min, max), want, `c=${c}`);
  assert.equal(remainingSuspicionTimeMs(1, k, 10000, min, max), 6000, 'elapsed time is subtracted');
  assert.equal(remainingSuspicionTimeMs(3, k, 5000, min, max), -3000, 'negative means expire now');
  assert.equal(remainingSuspicionTimeMs(0, 0, 0, min, max), min, 'k = 0 starts at min');
});

test('a suspicion with no confirmations fires at max; confirmations pull it toward min', () => {
  const clock = new VirtualClock();
  let firedAt = -1;
  new Suspicion(clock, 'a', 3, 2000, 30000, () => { firedAt = clock.now(); });
  clock.advance(29999);
  assert.equal(firedAt, -1);
  clock.advance(1);
  assert.equal(firedAt, 30000);

  const clock2 = new VirtualClock();
  let fired2 = -1;
  const s = new Suspicion(clock2, 'a', 3, 2000, 30000, () => { fired2 = clock2.now(); });
  clock2.advance(1000);
  assert.equal(s.confirm('a'), false, 'the originator is not a confirmation');
  assert.equal(s.confirm('b'), true);
  assert.equal(s.confirm('b'), false, 'duplicates do not count');
  assert.equal(s.confirm('c'), true);
  assert.equal(s.confirm('d'), true);
  assert.equal(s.confirm('e'), false, 'beyond k confirmations nothing changes');
  assert.equal(s.confirmationCount(), 3);
  clock2.advance(999);
  assert.equal(fired2, -1);
  clock2.advance(1);
  assert.equal(fired2, 2000, 'with k confirmations it expires at min from its start');
});

test('a confirmation after the accelerated deadline fires at once; cancel stops it', () => {
  const clock = new VirtualClock();
  let fired = 0;
  const s = new Suspicion(clock, 'a', 1, 1000, 10000, () => { fired++; });
  clock.advance(5000);
  s.confirm('b');
  assert.equal(fired, 1);
  const s2 = new Suspicion(clock, 'a', 0, 1000, 10000, () => { fired++; });
  s2.cancel();
  clock.advance(20000);
  assert.equal(fired, 1);
  void s;
});
