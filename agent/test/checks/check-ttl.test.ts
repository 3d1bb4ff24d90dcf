import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { TtlCheck, type CheckResult } from '../../src/checks';

test('ttl: critical when no update arrives within the TTL; each update restarts it', async () => {
  const clock = new VirtualClock();
  const reports: CheckResult[] = [];
  const ttl = new TtlCheck(30_000, clock, (r) => reports.push(r));
  ttl.start();
  clock.advance(20_000);
  ttl.update('passing', 'fine');
  clock.advance(29_999);
  assert.deepEqual(reports, [{ status: 'passing', output: 'fine' }]);
  clock.advance(1);
  assert.deepEqual(reports.at(-1), { status: 'critical', output: 'TTL expired (last output before timeout follows): fine' });
  ttl.update('warning', 'slow');
  assert.deepEqual(reports.at(-1), { status: 'warning', output: 'slow' });
  await ttl.stop();
  clock.advance(120_000);
  assert.equal(reports.length, 3, 'a stopped TTL check never expires');
});
