import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareHlc, compareStamps, HybridClock, type Hlc, type Stamp } from '../../src/config-entries/hlc';

const hlcArb = fc.record({ wallMs: fc.integer({ min: 0, max: 2000 }), counter: fc.integer({ min: 0, max: 5 }) });
const stampArb = fc.record({ hlc: hlcArb, node: fc.constantFrom('a', 'b', 'c', 'node-10', 'node-9') });

test('now() is strictly increasing whatever the wall clock does (jumps back, stalls)', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 200 }), (walls) => {
    let i = 0;
    const clock = new HybridClock(() => walls[Math.min(i, walls.length - 1)]!);
    let prev: Hlc | undefined;
    for (; i < walls.length; i++) {
      const t = clock.now();
      if (prev !== undefined && compareHlc(t, prev) <= 0) return false;
      if (t.wallMs < walls[i]!) return false; // never behind the wall clock
      prev = t;
    }
    return true;
  }));
});

test('receive() moves past the remote timestamp, so the next local write is stamped after it', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), hlcArb, fc.integer({ min: 0, max: 1000 })), { maxLength: 100 }), (ops) => {
    let wall = 0;
    const clock = new HybridClock(() => wall);
    let prev: Hlc = { wallMs: 0, counter: 0 };
    for (const [isReceive, remote, w] of ops) {
      wall = w;
      const t = isReceive ? clock.receive(remote) : clock.now();
      if (compareHlc(t, prev) <= 0) return false; // every event moves the clock forward
      if (isReceive && compareHlc(t, remote) <= 0) return false;
      if (isReceive && compareHlc(clock.now(), remote) <= 0) return false;
      prev = clock.peek();
    }
    return true;
  }));
});

test('a clock restored from a persisted timestamp never stamps earlier, even with the wall clock behind', () => {
  const clock = new HybridClock(() => 1000, { wallMs: 5000, counter: 7 });
  assert.deepEqual(clock.now(), { wallMs: 5000, counter: 8 });
});

test('stamps are totally ordered; equal timestamps are ordered by node name', () => {
  fc.assert(fc.property(stampArb, stampArb, stampArb, (a, b, c) => {
    const ab = compareStamps(a, b);
    const ba = compareStamps(b, a);
    if (Math.sign(ab) !== -Math.sign(ba)) return false; // antisymmetric
    if (ab === 0 && (a.node !== b.node || compareHlc(a.hlc, b.hlc) !== 0)) return false; // zero only for the same write
    if (ab < 0 && compareStamps(b, c) < 0 && compareStamps(a, c) >= 0) return false; // transitive
    return true;
  }));
  assert.ok(compareStamps({ hlc: { wallMs: 5, counter: 0 }, node: 'b' }, { hlc: { wallMs: 5, counter: 0 }, node: 'a' }) > 0);
  assert.ok(compareStamps({ hlc: { wallMs: 5, counter: 1 }, node: 'a' }, { hlc: { wallMs: 5, counter: 0 }, node: 'z' }) > 0);
});

test('last-writer-wins picks the same winner whatever order writes arrive in', () => {
  const winner = (writes: Stamp[]): Stamp => writes.reduce((best, w) => (compareStamps(w, best) > 0 ? w : best));
  fc.assert(fc.property(fc.array(stampArb, { minLength: 1, maxLength: 20 }), fc.integer(), (writes, seed) => {
    const shuffled = [...writes];
    let s = seed >>> 0;
    for (let i = shuffled.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) >>> 0;
      const j = s % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    return compareStamps(winner(writes), winner(shuffled)) === 0;
  }));
});
