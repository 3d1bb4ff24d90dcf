import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeSignRequest, decodeSignResponse, encodeJson, isDecodeFailure, MAX_REQUEST_BYTES, parseStatusMessage, statusMessage } from '../src/grpc-codec';

test('requests decode with their fields checked; failures are values, not exceptions', () => {
  assert.deepEqual(decodeSignRequest(encodeJson({ csrPem: 'x', ttlMs: 5 })), { csrPem: 'x', ttlMs: 5 });
  assert.deepEqual(decodeSignRequest(encodeJson({ csrPem: 'x', extra: 1 })), { csrPem: 'x' });
  assert.match((decodeSignRequest(Buffer.from('{')) as { decodeError: string }).decodeError, /not JSON/);
  assert.match((decodeSignRequest(encodeJson([])) as { decodeError: string }).decodeError, /not a JSON object/);
  assert.match((decodeSignRequest(encodeJson({ csrPem: 1 })) as { decodeError: string }).decodeError, /csrPem/);
  assert.match((decodeSignRequest(encodeJson({ csrPem: 'x', ttlMs: -1 })) as { decodeError: string }).decodeError, /ttlMs/);
  assert.match((decodeSignRequest(encodeJson({ csrPem: 'x', ttlMs: '1h' })) as { decodeError: string }).decodeError, /ttlMs/);
  assert.match((decodeSignRequest(Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20)) as { decodeError: string }).decodeError, /bytes; at most/);
});

test('responses are checked field by field', () => {
  const ok = { certPem: 'c', chainPem: ['i'], rootId: 'r', notBeforeMs: 1, notAfterMs: 2, serialHex: 'ab' };
  assert.deepEqual(decodeSignResponse(encodeJson(ok)), ok);
  for (const field of Object.keys(ok)) {
    const bad = { ...ok, [field]: field === 'chainPem' ? [1] : null };
    assert.ok(isDecodeFailure(decodeSignResponse(encodeJson(bad))), field);
  }
});

test('fast-check: decoders never throw on arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    decodeSignRequest(Buffer.from(b));
    decodeSignResponse(Buffer.from(b));
  }), { numRuns: 1000 });
  fc.assert(fc.property(fc.json(), (j) => {
    decodeSignRequest(Buffer.from(j));
    decodeSignResponse(Buffer.from(j));
  }), { numRuns: 1000 });
});

test('status messages carry the code first', () => {
  const m = statusMessage('SHOAL_ERR_CA_FORBIDDEN', 'service web is not registered on node a');
  assert.equal(m, 'SHOAL_ERR_CA_FORBIDDEN: service web is not registered on node a');
  assert.deepEqual(parseStatusMessage(m), { code: 'SHOAL_ERR_CA_FORBIDDEN', message: 'service web is not registered on node a' });
  assert.deepEqual(parseStatusMessage('No connection established'), { code: undefined, message: 'No connection established' });
});
