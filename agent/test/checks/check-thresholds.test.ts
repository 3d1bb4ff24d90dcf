import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusThresholds } from '../../src/checks';
import type { HealthStatus } from '../../src/catalog/types';

/** Feeds statuses; returns what was reported after each (undefined = kept the previous status). */
function run(t: StatusThresholds, statuses: HealthStatus[]): (HealthStatus | undefined)[] {
  return statuses.map((status) => t.apply({ status, output: status })?.status);
}

test('thresholds: Consul semantics, table', () => {
  const cases: { name: string; args: [number, number, number]; input: HealthStatus[]; want: (HealthStatus | undefined)[] }[] = [
    { name: 'no thresholds: every result is reported', args: [0, 0, 0], input: ['passing', 'critical', 'warning'], want: ['passing', 'critical', 'warning'] },
    { name: 'success_before_passing=3', args: [3, 0, 0], input: ['passing', 'passing', 'passing', 'passing'], want: [undefined, undefined, 'passing', 'passing'] },
    { name: 'a failure resets the success streak', args: [2, 0, 0], input: ['passing', 'critical', 'passing', 'passing'], want: [undefined, 'critical', undefined, 'passing'] },
    { name: 'warning counts as success and is reported as warning', args: [2, 0, 0], input: ['warning', 'warning'], want: [undefined, 'warning'] },
    { name: 'failures_before_critical=3', args: [0, 0, 3], input: ['critical', 'critical', 'critical'], want: [undefined, undefined, 'critical'] },
    { name: 'failures_before_warning=1 before critical=3', args: [0, 1, 3], input: ['critical', 'critical', 'critical', 'passing'], want: ['warning', 'warning', 'critical', 'passing'] },
    { name: 'a success resets the failure streak', args: [0, 0, 2], input: ['critical', 'passing', 'critical', 'critical'], want: [undefined, 'passing', undefined, 'critical'] },
  ];
  for (const c of cases) {
    assert.deepEqual(run(new StatusThresholds(...c.args), c.input), c.want, c.name);
  }
});

test('thresholds: the reported warning keeps the failing output', () => {
  const t = new StatusThresholds(0, 1, 2);
  assert.deepEqual(t.apply({ status: 'critical', output: 'connection refused' }), { status: 'warning', output: 'connection refused' });
});
