import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { blockingParams, waitForIndex, type IndexSource } from '../../src/http';

class Source implements IndexSource {
  value = 5;
  private listeners = new Set<() => void>();
  index(): number {
    return this.value;
  }
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  bump(): void {
    this.value++;
    for (const l of [...this.listeners]) l();
  }
  get subscribers(): number {
    return this.listeners.size;
  }
}

test('blocking parameters: index and wait, defaults and cap, with errors naming the parameter', () => {
  assert.equal(blockingParams(new URLSearchParams('')), undefined);
  assert.deepEqual(blockingParams(new URLSearchParams('index=7&wait=5s')), { index: 7, waitMs: 5000 });
  assert.deepEqual(blockingParams(new URLSearchParams('index=7')), { index: 7, waitMs: 300_000 });
  assert.deepEqual(blockingParams(new URLSearchParams('index=7&wait=1h')), { index: 7, waitMs: 600_000 });
  assert.throws(() => blockingParams(new URLSearchParams('index=x')), /index: expected a non-negative integer/);
  assert.throws(() => blockingParams(new URLSearchParams('index=1&wait=soon')), /wait: expected a duration/);
});

test('a blocked request returns when the index moves, and unsubscribes', async () => {
  const clock = new VirtualClock();
  const src = new Source();
  const p = waitForIndex(src, 5, 10_000, clock, new AbortController().signal);
  clock.advance(1000);
  src.bump();
  assert.equal(await p, 6);
  assert.equal(src.subscribers, 0);
});

test('a blocked request returns the same index when the wait runs out, or at once when the index differs', async () => {
  const clock = new VirtualClock();
  const src = new Source();
  let done = false;
  const p = waitForIndex(src, 5, 10_000, clock, new AbortController().signal).then((v) => {
    done = true;
    return v;
  });
  await clock.advanceAsync(9_999, 1000);
  assert.equal(done, false);
  await clock.advanceAsync(2, 1);
  assert.equal(await p, 5);
  assert.equal(await waitForIndex(src, 4, 10_000, clock, new AbortController().signal), 5);
  assert.equal(await waitForIndex(src, 9, 10_000, clock, new AbortController().signal), 5, 'index went backwards: reset');
});

test('a blocked request returns when the client goes away', async () => {
  const clock = new VirtualClock();
  const src = new Source();
  const ac = new AbortController();
  const p = waitForIndex(src, 5, 10_000, clock, ac.signal);
  ac.abort();
  assert.equal(await p, 5);
  assert.equal(src.subscribers, 0);
});
