/**
 * The proxy worker's access log: records gathered in one turn of the event loop go out together, in
 * writes of whole lines of at most 4 KiB (atomic on a pipe, so never interleaved with the agent's own
 * lines), in pino's JSON shape; a write the output refuses loses its lines and counts them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedAccessLog } from '../../src/proxy/access-log';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function record(i: number): Record<string, unknown> {
  return { direction: 'outbound', source: 'spiffe://t/ns/default/dc/dc1/svc/web', destination: 'spiffe://t/ns/default/dc/dc1/svc/api', endpoint: `10.0.0.${i % 250}:21000`, bytes_sent: i, outcome: 'ok' };
}

test('records of one event-loop turn go out in writes of whole lines, none over 4 KiB, in order', async () => {
  const writes: string[] = [];
  const log = new BatchedAccessLog({ json: true, now: () => Date.UTC(2026, 10, 22), write: (c) => writes.push(c) });
  for (let i = 0; i < 200; i++) log.write(record(i));
  const beforeTurn = writes.length;
  assert.ok(beforeTurn >= 1, 'a batch is written as soon as the next line would take it past 4 KiB');
  await turn();
  assert.equal(writes.length, beforeTurn + 1, 'the rest goes out at the end of the turn');
  for (const w of writes) {
    assert.ok(Buffer.byteLength(w) <= 4096, `a write of ${Buffer.byteLength(w)} bytes`);
    assert.ok(w.endsWith('\n'), 'every write ends with a whole line');
  }
  const lines = writes.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l['bytes_sent']), Array.from({ length: 200 }, (_, i) => i));
  assert.deepEqual(Object.keys(lines[0]!).slice(0, 3), ['level', 'time', 'component']);
  assert.equal(lines[0]!['msg'], 'access');
  assert.equal(lines[0]!['time'], '2026-11-22T00:00:00.000Z');
});

test('a write the output refuses loses its lines, which are counted; later writes go on', async () => {
  let refuse = true;
  const writes: string[] = [];
  const log = new BatchedAccessLog({
    json: true, now: () => 0,
    write: (c) => {
      if (refuse) throw Object.assign(new Error('write EAGAIN'), { code: 'EAGAIN' });
      writes.push(c);
    },
  });
  let dropped = 0;
  log.onDropped = (n) => (dropped += n);
  for (let i = 0; i < 3; i++) log.write(record(i));
  await turn();
  assert.equal(dropped, 3);
  refuse = false;
  log.write(record(9));
  await turn();
  assert.equal(dropped, 3);
  assert.equal(writes.length, 1);
  assert.equal((JSON.parse(writes[0]!) as Record<string, unknown>)['bytes_sent'], 9);
});
