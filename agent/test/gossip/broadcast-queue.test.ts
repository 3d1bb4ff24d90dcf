import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BroadcastQueue } from '../../src/gossip/broadcast-queue';

const msg = (s: string, size = 10): Buffer => Buffer.from(s.padEnd(size, '.'));

test('retransmit limit is retransmitMult x ceil(log10(N+1))', () => {
  let n = 1;
  const q = new BroadcastQueue(4, () => n);
  const table: [number, number][] = [[1, 4], [9, 4], [10, 8], [99, 8], [100, 12], [999, 12], [1000, 16], [5000, 16]];
  for (const [nodes, want] of table) {
    n = nodes;
    assert.equal(q.retransmitLimit(), want, `N=${nodes}`);
  }
});

test('each broadcast is sent exactly the limit number of times, least transmitted first', () => {
  const q = new BroadcastQueue(2, () => 5); // limit 2
  q.queue('a', msg('a'));
  q.queue('b', msg('b'));
  const sent = new Map<string, number>();
  for (let round = 0; round < 10; round++) {
    for (const m of q.take(2, 14)) { // room for exactly one 10-byte message + 2 overhead
      const k = m.toString()[0]!;
      sent.set(k, (sent.get(k) ?? 0) + 1);
    }
  }
  assert.deepEqual(Object.fromEntries(sent), { a: 2, b: 2 });
  assert.equal(q.size(), 0);
  // Fairness: with room for one at a time, the never-sent message goes before a re-send.
  q.queue('x', msg('x'));
  assert.equal(q.take(2, 14)[0]!.toString()[0], 'x');
  q.queue('y', msg('y'));
  assert.equal(q.take(2, 14)[0]!.toString()[0], 'y', 'fresh message first');
  assert.equal(q.take(2, 14)[0]!.toString()[0], 'y', 'newest first among equal counts');
});

test('a newer broadcast with the same key replaces the queued one and reports it done', () => {
  const q = new BroadcastQueue(3, () => 3);
  let doneOld = false;
  q.queue('n:web1', msg('old'), () => { doneOld = true; });
  q.queue('n:web1', msg('new'));
  assert.equal(doneOld, true);
  assert.equal(q.size(), 1);
  const out = q.take(2, 1400);
  assert.equal(out.length, 1);
  assert.ok(out[0]!.toString().startsWith('new'));
});

test('take fills the byte budget and never returns one message twice per call', () => {
  const q = new BroadcastQueue(4, () => 1000);
  for (let i = 0; i < 200; i++) q.queue(`k${i}`, msg(`m${i}`, 50));
  const out = q.take(2, 1400);
  assert.equal(out.length, Math.floor(1400 / 52));
  assert.equal(new Set(out.map((b) => b.toString())).size, out.length);
  let total = out.length;
  for (let i = 0; i < 1000; i++) total += q.take(2, 1400).length;
  assert.equal(total, 200 * 16, 'every message sent exactly limit times');
  assert.equal(q.size(), 0);
});

test('messages larger than the budget wait without blocking smaller ones', () => {
  const q = new BroadcastQueue(1, () => 1);
  q.queue('big', msg('big', 2000));
  q.queue('small', msg('small', 10));
  const out = q.take(2, 100);
  assert.equal(out.length, 1);
  assert.ok(out[0]!.toString().startsWith('small'));
  assert.equal(q.size(), 1);
});

test('property: under any mix of queue, replace and take, every live broadcast is sent exactly the limit', () => {
  // Regression: retiring entries while take() walked a stack once compacted it under the scan.
  const op = fc.oneof(
    fc.record({ kind: fc.constant('queue' as const), key: fc.integer({ min: 0, max: 200 }), size: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('take' as const), limit: fc.integer({ min: 0, max: 1400 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 4 }), (ops, mult) => {
    const q = new BroadcastQueue(mult, () => 50);
    const limit = q.retransmitLimit();
    const sent = new Map<string, number>();
    const replaced = new Set<string>();
    let serial = 0;
    const live = new Map<number, string>();
    for (const o of ops) {
      if (o.kind === 'queue') {
        const id = `m${serial++}`;
        const prev = live.get(o.key);
        if (prev !== undefined) replaced.add(prev);
        live.set(o.key, id);
        q.queue(`k${o.key}`, Buffer.from(id.padEnd(o.size, '.')));
      } else {
        const got = q.take(2, o.limit);
        assert.equal(new Set(got.map((b) => b.toString())).size, got.length, 'no duplicates within one take');
        for (const b of got) {
          const id = b.toString().replace(/\.+$/, '');
          sent.set(id, (sent.get(id) ?? 0) + 1);
        }
      }
    }
    for (let i = 0; i < 10_000 && q.size() > 0; i++) {
      for (const b of q.take(2, 1400)) {
        const id = b.toString().replace(/\.+$/, '');
        sent.set(id, (sent.get(id) ?? 0) + 1);
      }
    }
    assert.equal(q.size(), 0);
    for (const id of live.values()) assert.equal(sent.get(id), limit, `${id} sent ${sent.get(id)} times`);
    for (const [id, n] of sent) assert.ok(n <= limit, `${id} over the limit`);
  }), { numRuns: 300 });
});

test('regression: replaced entries deep in a stack and a large unsendable one on top do not break take', () => {
  // 40 small broadcasts, a large one on top that never fits, then 16 replacements: the stale copies
  // deep in the stack used to trigger a compaction in the middle of take()'s scan.
  const q = new BroadcastQueue(4, () => 1000);
  for (let i = 0; i < 40; i++) q.queue(`k${i}`, msg(`s${i}`));
  q.queue('big', msg('big', 2000));
  for (let i = 0; i < 16; i++) q.queue(`k${i}`, msg(`r${i}`));
  const out = q.take(2, 300);
  assert.equal(out.length, 25);
  assert.equal(new Set(out.map((b) => b.toString())).size, 25);
  let total = out.length;
  for (let i = 0; i < 200; i++) total += q.take(2, 300).length;
  assert.equal(total, 40 * 16, 'every small broadcast sent its full count; the big one waits');
  assert.equal(q.size(), 1);
});
