import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Awareness } from '../../src/gossip/awareness';

test('health score is clamped to [0, max-1] and scales timeouts by score+1', () => {
  const a = new Awareness(8);
  assert.equal(a.scaleTimeout(500), 500);
  assert.equal(a.applyDelta(-1), 0, 'never below 0');
  assert.equal(a.applyDelta(3), 3);
  assert.equal(a.scaleTimeout(500), 2000);
  assert.equal(a.applyDelta(10), 7, 'never above max-1');
  assert.equal(a.scaleTimeout(1000), 8000);
  assert.equal(a.applyDelta(-2), 5);
});
