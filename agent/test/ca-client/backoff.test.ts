import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, defaultBackoffPolicy } from '../../src/ca-client/backoff';
import type { Random } from '../../src/core/random';
import { SeededRandom } from '../../src/core/random';

const fixed = (v: number): Random => ({ float: () => v, int: (n) => Math.floor(v * n) });

test('the upper bound doubles from 200 ms per failure and stops at 30 s', () => {
  const table: Array<[attempt: number, upperMs: number]> = [
    [1, 200], [2, 400], [3, 800], [4, 1600], [5, 3200], [8, 25_600], [9, 30_000], [40, 30_000], [1e9, 30_000],
  ];
  for (const [attempt, upper] of table) {
    assert.ok(Math.abs(backoffMs(attempt, fixed(0.999999)) - upper) < 0.1, `attempt ${attempt}: near ${upper}`);
    assert.equal(backoffMs(attempt, fixed(0.5)), Math.max(50, upper / 2), `attempt ${attempt}: half`);
  }
});

test('full jitter: never below the 50 ms floor, never above the bound, spread over [0, bound]', () => {
  assert.equal(backoffMs(1, fixed(0)), 50);
  assert.equal(backoffMs(0, fixed(0.5)), 100, 'attempt 0 is treated as the first');
  assert.equal(backoffMs(-3, fixed(0.5)), 100);
  const r = new SeededRandom(7);
  const samples = Array.from({ length: 2000 }, () => backoffMs(6, r));
  assert.ok(samples.every((s) => s >= 50 && s <= 6400));
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  assert.ok(mean > 2800 && mean < 3600, `mean ${mean} should be near 3200`);
});

test('a custom policy is honoured', () => {
  const p = { ...defaultBackoffPolicy(), baseMs: 1000, capMs: 60_000, floorMs: 500 };
  assert.equal(backoffMs(3, fixed(0.5), p), 2000);
  assert.equal(backoffMs(20, fixed(0.5), p), 30_000);
  assert.equal(backoffMs(1, fixed(0.1), p), 500);
});
