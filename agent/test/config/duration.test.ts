import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDurationMs } from '../../src/config/duration';

test('Go and Consul duration strings parse to milliseconds', () => {
  const table: [unknown, number][] = [
    ['200ms', 200], ['1s', 1000], ['1m30s', 90_000], ['72h', 259_200_000], ['1.5s', 1500], ['0', 0],
    ['1h2m3s4ms', 3_723_004], ['500us', 0.5], ['250µs', 0.25], ['2000000ns', 2], ['+3s', 3000],
    [0, 0], [1500, 1500], [2.5, 2.5],
  ];
  for (const [input, ms] of table) assert.equal(parseDurationMs(input), ms, JSON.stringify(input));
});

test('anything else is refused, including negative and unitless strings', () => {
  for (const bad of ['', '500', '-1s', '1x', 's', '1s2', '1 s', 'fast', '1.2.3s', -5, Number.NaN, Infinity, true, null, {}, []]) {
    assert.equal(parseDurationMs(bad), undefined, JSON.stringify(bad));
  }
});

test('durations format the way Go prints them', () => {
  assert.equal(formatDurationMs(0), '0s');
  assert.equal(formatDurationMs(200), '200ms');
  assert.equal(formatDurationMs(90_000), '1m30s');
  assert.equal(formatDurationMs(259_200_000), '72h');
  assert.equal(parseDurationMs(formatDurationMs(3_723_000)), 3_723_000);
});
