import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DerError, oid, oidToString, readTlv, time, tlv, unsignedInteger } from '../src/der';

test('lengths: short and long form, and refusals of non-DER forms', () => {
  const long = tlv(0x04, Buffer.alloc(300));
  assert.deepEqual([...long.subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
  const t = readTlv(long, 0, long.length, 'x');
  assert.deepEqual([t.valueStart, t.end], [4, 304]);
  assert.throws(() => readTlv(Buffer.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0, 8, 'x'), /not minimally encoded/);
  assert.throws(() => readTlv(Buffer.from([0x30, 0x80, 0, 0]), 0, 4, 'x'), /indefinite/);
  assert.throws(() => readTlv(Buffer.from([0x04, 0x85, 1, 1, 1, 1, 1]), 0, 7, 'x'), /too large/);
  assert.throws(() => readTlv(Buffer.from([0x04, 0x05, 1]), 0, 3, 'x'), /runs past/);
  assert.throws(() => readTlv(Buffer.from([0x1f, 0x01, 0x00]), 0, 3, 'x'), /high tag/);
});

test('unsigned integers are minimal and positive', () => {
  assert.deepEqual([...unsignedInteger(Buffer.from([0x80]))], [0x02, 0x02, 0x00, 0x80]);
  assert.deepEqual([...unsignedInteger(Buffer.from([0x00, 0x00, 0x7f]))], [0x02, 0x01, 0x7f]);
  assert.deepEqual([...unsignedInteger(Buffer.from([0x00]))], [0x02, 0x01, 0x00]);
});

test('OIDs encode and print back', () => {
  for (const o of ['1.2.840.10045.4.3.2', '2.5.29.17', '1.3.6.1.5.5.7.3.1', '2.999.3']) {
    const enc = oid(o);
    assert.equal(oidToString(enc.subarray(2)), o);
  }
  assert.equal(oid('1.2.840.10045.2.1').toString('hex'), '06072a8648ce3d0201');
});

test('times: UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280)', () => {
  assert.equal(time(Date.UTC(2026, 0, 2, 3, 4, 5)).subarray(2).toString(), '260102030405Z');
  assert.equal(time(Date.UTC(2026, 0, 2, 3, 4, 5))[0], 0x17);
  assert.equal(time(Date.UTC(2050, 0, 1)).subarray(2).toString(), '20500101000000Z');
  assert.equal(time(Date.UTC(2050, 0, 1))[0], 0x18);
});

test('fast-check: readTlv on arbitrary bytes returns an element inside the limit or throws DerError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    try {
      const t = readTlv(b, 0, b.length, 'x');
      assert.ok(t.valueStart <= t.end && t.end <= b.length);
    } catch (err) {
      assert.ok(err instanceof DerError);
    }
  }), { numRuns: 3000 });
});
