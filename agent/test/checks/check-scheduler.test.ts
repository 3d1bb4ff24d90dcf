import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { SeededRandom } from '../../src/core/random';
import { IntervalCheck, type CheckDefinition, type CheckResult, type Probe } from '../../src/checks';

function def(extra: Partial<CheckDefinition> = {}): CheckDefinition {
  return {
    id: 'c', name: 'c', notes: '', serviceId: 'web', spec: { type: 'tcp', host: '127.0.0.1', port: 1 },
    intervalMs: 10_000, timeoutMs: 2_000, successBeforePassing: 0, failuresBeforeWarning: 0, failuresBeforeCritical: 0,
    deregisterCriticalServiceAfterMs: 0, initialStatus: 'critical', intervalText: '10s', timeoutText: '2s', ...extra,
  };
}

/** A probe whose runs the test settles by hand. */
function manualProbe(): { probe: Probe; runs: { signal: AbortSignal; settle: (r: CheckResult) => void }[] } {
  const runs: { signal: AbortSignal; settle: (r: CheckResult) => void }[] = [];
  return {
    runs,
    probe: (signal) => new Promise((resolve) => {
      runs.push({ signal, settle: resolve });
      signal.addEventListener('abort', () => resolve({ status: 'critical', output: `aborted: ${(signal.reason as Error).message}` }));
    }),
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

test('scheduler: first run at the jittered point within the interval, then one interval after each run ends', async () => {
  const clock = new VirtualClock();
  const { probe, runs } = manualProbe();
  const reports: CheckResult[] = [];
  const check = new IntervalCheck(def(), probe, { clock, random: { float: () => 0.42, int: () => 0 } }, (r) => reports.push(r));
  check.start();
  clock.advance(4_199);
  assert.equal(runs.length, 0);
  clock.advance(1);
  assert.equal(runs.length, 1, 'first run at 0.42 x interval');
  // The run takes 1.5 s; the next starts 10 s after it ended, never overlapping.
  clock.advance(1_500);
  runs[0]!.settle({ status: 'passing', output: 'ok' });
  await flush();
  assert.deepEqual(reports, [{ status: 'passing', output: 'ok' }]);
  clock.advance(9_999);
  assert.equal(runs.length, 1);
  clock.advance(1);
  assert.equal(runs.length, 2);
  await check.stop();
});

test('scheduler: different checks start at different points (stagger)', () => {
  const clock = new VirtualClock();
  const random = new SeededRandom(1);
  const firstRuns: number[] = [];
  const checks = Array.from({ length: 5 }, () => new IntervalCheck(def(), async () => {
    firstRuns.push(clock.now());
    return { status: 'passing', output: '' };
  }, { clock, random }, () => {}));
  for (const c of checks) c.start();
  clock.advance(10_000);
  assert.equal(firstRuns.length, 5);
  assert.ok(new Set(firstRuns).size > 1, `all first runs at ${firstRuns.join(', ')}`);
  for (const c of checks) void c.stop();
});

test('scheduler: a run is aborted at the timeout and reported critical', async () => {
  const clock = new VirtualClock();
  const { probe, runs } = manualProbe();
  const reports: CheckResult[] = [];
  const check = new IntervalCheck(def(), probe, { clock, random: { float: () => 0, int: () => 0 } }, (r) => reports.push(r));
  check.start();
  clock.advance(0);
  assert.equal(runs.length, 1);
  clock.advance(1_999);
  assert.equal(runs[0]!.signal.aborted, false);
  clock.advance(1);
  assert.equal(runs[0]!.signal.aborted, true);
  await flush();
  assert.deepEqual(reports, [{ status: 'critical', output: 'aborted: timed out after 2s' }]);
  await check.stop();
});

test('scheduler: thresholds hold back a single failure; intervals under 1 s are raised to 1 s', async () => {
  const clock = new VirtualClock();
  let next: CheckResult = { status: 'passing', output: 'ok' };
  const reports: CheckResult[] = [];
  const check = new IntervalCheck(def({ intervalMs: 10, failuresBeforeCritical: 2 }), async () => next, { clock, random: { float: () => 0, int: () => 0 } }, (r) => reports.push(r));
  check.start();
  clock.advance(0);
  await flush();
  next = { status: 'critical', output: 'refused' };
  await clock.advanceAsync(999, 100);
  await flush();
  assert.equal(reports.length, 1, 'no second run before 1 s');
  await clock.advanceAsync(1, 1);
  await flush();
  assert.deepEqual(reports, [{ status: 'passing', output: 'ok' }], 'one failure is held back');
  await clock.advanceAsync(1000, 1000);
  await flush();
  assert.deepEqual(reports.at(-1), { status: 'critical', output: 'refused' });
  await check.stop();
});

test('scheduler: stop aborts the run in flight and schedules nothing more', async () => {
  const clock = new VirtualClock();
  const { probe, runs } = manualProbe();
  const reports: CheckResult[] = [];
  const check = new IntervalCheck(def(), probe, { clock, random: { float: () => 0, int: () => 0 } }, (r) => reports.push(r));
  check.start();
  clock.advance(0);
  await check.stop();
  assert.equal(runs[0]!.signal.aborted, true);
  clock.advance(60_000);
  await flush();
  assert.equal(runs.length, 1);
  assert.deepEqual(reports, [], 'a stopped check reports nothing');
});
