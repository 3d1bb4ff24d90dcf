import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedOutput, MAX_OUTPUT_BYTES, truncateOutput } from '../../src/checks';

test('output: at most 4 KiB kept, the rest counted as dropped', () => {
  const out = new BoundedOutput();
  for (let i = 0; i < 100; i++) out.append(Buffer.alloc(1000, 'a'));
  assert.equal(MAX_OUTPUT_BYTES, 4096);
  assert.equal(out.text().length, 4096);
  assert.ok(out.full);
  assert.ok(out.truncated);
});

test('output: a multi-byte character cut at the limit is dropped, not mangled', () => {
  const out = new BoundedOutput(5);
  out.append(Buffer.from('abcd€', 'utf8')); // € is 3 bytes: only its first byte fits
  assert.equal(out.text(), 'abcd');
  assert.equal(truncateOutput('ab€€', 5), 'ab€');
  assert.equal(truncateOutput('ab€€', 4), 'ab');
  assert.equal(truncateOutput('short'), 'short');
  assert.equal(Buffer.byteLength(truncateOutput('é'.repeat(5000))), 4096);
});
