import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renewAtMs, servable } from '../../src/ca-client/renewal';
import { SeededRandom, type Random } from '../../src/core/random';

const fixed = (v: number): Random => ({ float: () => v, int: (n) => Math.floor(v * n) });
const H = 3_600_000;

test('renewal falls at 60% + 30% x u of the lifetime', () => {
  const table: Array<[nb: number, na: number, u: number, at: number]> = [
    [0, 100 * H, 0, 60 * H],
    [0, 100 * H, 0.5, 75 * H],
    [0, 100 * H, 0.999999, 100 * H * (0.6 + 0.3 * 0.999999)],
    [1000, 1000 + 72 * H, 0, 1000 + 43.2 * H],
    [1000, 1000 + 72 * H, 1 / 3, 1000 + 50.4 * H],
    [5000, 5000, 0.7, 5000],
    [5000, 4000, 0.7, 5000],
  ];
  for (const [nb, na, u, at] of table) assert.ok(Math.abs(renewAtMs(nb, na, fixed(u)) - at) < 1, `${nb}..${na} u=${u}: ${renewAtMs(nb, na, fixed(u))} vs ${at}`);
});

test('with real randomness every renewal lies in [60%, 90%) and the window is used evenly', () => {
  const r = new SeededRandom(3);
  const fractions = Array.from({ length: 5000 }, () => renewAtMs(0, 72 * H, r) / (72 * H));
  assert.ok(fractions.every((f) => f >= 0.6 && f < 0.9));
  const buckets = [0, 0, 0];
  for (const f of fractions) buckets[Math.min(2, Math.floor((f - 0.6) / 0.1))]!++;
  for (const b of buckets) assert.ok(b > 1500 && b < 1833, `bucket ${b} of 5000 should be near a third`);
});

test('servable: not after expiry, and not before notBefore beyond 1 min of skew', () => {
  assert.equal(servable(1000, 2000, 1999), true);
  assert.equal(servable(1000, 2000, 2000), false);
  assert.equal(servable(100_000, 200_000, 50_000), true, '50 s early is within skew');
  assert.equal(servable(100_000, 200_000, 30_000), false);
});
