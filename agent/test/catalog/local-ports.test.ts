import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignSidecarPorts, DEFAULT_SIDECAR_PORTS } from '../../src/catalog/local-ports';

const range = DEFAULT_SIDECAR_PORTS;

test('ports: lowest free port, skipping taken ones', () => {
  const r = assignSidecarPorts(['a', 'b', 'c'], [21000, 21002], new Map(), range);
  assert.deepEqual([...r.ports], [['a', 21001], ['b', 21003], ['c', 21004]]);
  assert.deepEqual(r.unassigned, []);
});

test('ports: a sidecar keeps its previous port; newcomers never take it', () => {
  const previous = new Map([['b', 21000], ['c', 21007]]);
  const r = assignSidecarPorts(['new', 'b', 'c'], [], previous, range);
  assert.deepEqual(Object.fromEntries(r.ports), { b: 21000, c: 21007, new: 21001 });
});

test('ports: a previous port now taken explicitly, or outside the range, is replaced', () => {
  const r = assignSidecarPorts(['a', 'b'], [21003], new Map([['a', 21003], ['b', 30000]]), range);
  assert.deepEqual(Object.fromEntries(r.ports), { a: 21000, b: 21001 });
});

test('ports: an exhausted range leaves sidecars unassigned', () => {
  const r = assignSidecarPorts(['a', 'b', 'c'], [], new Map(), { min: 21000, max: 21001 });
  assert.deepEqual(Object.fromEntries(r.ports), { a: 21000, b: 21001 });
  assert.deepEqual(r.unassigned, ['c']);
});
