import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode } from '@msgpack/msgpack';
import {
  CatalogCodecError, decodeCatalogMessage, encodeAnswer, encodeDigest, encodeFull, encodeGet, encodeNodeCatalog, encodeState, packArray,
} from '../../src/catalog/catalog-codec';
import type { CheckRecord, NodeCatalog, ServiceRecord } from '../../src/catalog/types';

// eslint-disable-next-line no-control-regex
const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000-\u001f\u007f]/.test(s));
const text = fc.string({ maxLength: 30 });
const meta = fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '__proto__'), text, { maxKeys: 4 });

const service: fc.Arbitrary<ServiceRecord> = fc.record({
  id: name, name, kind: fc.constant('' as const), address: text, port: fc.integer({ min: 0, max: 65535 }),
  tags: fc.array(text, { maxLength: 4 }), meta, weights: fc.record({ passing: fc.nat(100), warning: fc.nat(100) }),
  enableTagOverride: fc.boolean(), namespace: text, source: text,
});

const proxyService: fc.Arbitrary<ServiceRecord> = fc.tuple(service, name, fc.array(fc.record({
  destinationName: name, destinationNamespace: text, datacenter: text, localBindAddress: text, localBindPort: fc.integer({ min: 0, max: 65535 }),
  config: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__'), fc.oneof(fc.integer(), fc.boolean(), text, fc.constant(null)), { maxKeys: 3 }),
}), { maxLength: 3 })).map(([s, dest, upstreams]) => ({
  ...s, kind: 'connect-proxy' as const,
  proxy: { destinationServiceName: dest, destinationServiceId: dest, localServiceAddress: '127.0.0.1', localServicePort: 8080, upstreams, config: { protocol: 'http' } },
}));

const check: fc.Arbitrary<CheckRecord> = fc.record({
  checkId: name, name: text, status: fc.constantFrom('passing' as const, 'warning' as const, 'critical' as const), notes: text, output: text,
  serviceId: text, serviceName: text, serviceTags: fc.array(text, { maxLength: 3 }), type: fc.constantFrom('http' as const, 'tcp' as const, 'ttl' as const),
  interval: fc.constantFrom('', '10s'), timeout: fc.constantFrom('', '1s'),
});

const catalog: fc.Arbitrary<NodeCatalog> = fc.record({
  node: name, address: text, datacenter: text, meta,
  version: fc.record({ generation: fc.nat(), seq: fc.nat() }),
  services: fc.uniqueArray(fc.oneof(service, proxyService), { maxLength: 5, selector: (s) => s.id }),
  checks: fc.array(check, { maxLength: 5 }),
});

/** fast-check may build null-prototype objects; compare plain copies. */
const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test('node states round-trip through full broadcasts, answers and push-pull states', () => {
  fc.assert(fc.property(catalog.map(plain), (c) => {
    const wire = encodeNodeCatalog(c);
    const full = decodeCatalogMessage(encodeFull(wire));
    assert.deepEqual(full, { type: 'full', catalog: c });
    assert.deepEqual(decodeCatalogMessage(encodeAnswer(wire)), { type: 'answer', catalog: c });
    const state = decodeCatalogMessage(encodeState('10.0.0.1:7301', [{ node: c.node, version: c.version }], [wire, wire]));
    assert.deepEqual(state, { type: 'state', from: '10.0.0.1:7301', digest: [{ node: c.node, version: c.version }], full: [c, c] });
    // Encoding what was decoded gives the same bytes (relays are byte-identical).
    assert.deepEqual(encodeNodeCatalog((full as { catalog: NodeCatalog }).catalog), wire);
  }), { numRuns: 200 });
});

test('digests, gets and empty answers round-trip', () => {
  const entry = { node: 'n1', version: { generation: 1767225600000, seq: 3 } };
  assert.deepEqual(decodeCatalogMessage(encodeDigest(entry, '10.0.0.1:7301', '10.0.0.2:7301')), { type: 'digest', entry, origin: '10.0.0.1:7301', via: '10.0.0.2:7301' });
  assert.deepEqual(decodeCatalogMessage(encodeGet('n1')), { type: 'get', node: 'n1' });
  assert.deepEqual(decodeCatalogMessage(encodeAnswer(undefined)), { type: 'answer', catalog: undefined });
});

test('packArray writes fixarray, array16 and array32 headers', () => {
  for (const n of [0, 15, 16, 65535, 65536]) {
    const arr = packArray(Array.from({ length: n }, () => encode(1)));
    const back = decode(arr) as number[];
    assert.equal(back.length, n);
    assert.ok(back.every((x) => x === 1));
  }
});

test('every truncation and every single-byte corruption of a valid message is refused with a CatalogCodecError', () => {
  fc.assert(fc.property(catalog, fc.nat(), fc.nat(255), (c, at, byte) => {
    const msg = encodeFull(encodeNodeCatalog(c));
    const cut = msg.subarray(0, at % msg.length);
    assert.throws(() => decodeCatalogMessage(cut), CatalogCodecError);
    const bent = Uint8Array.from(msg);
    bent[at % msg.length] = byte;
    try {
      decodeCatalogMessage(bent);
    } catch (err) {
      assert.ok(err instanceof CatalogCodecError, String(err));
    }
  }), { numRuns: 300 });
});

test('limits: oversize fields, too many items, duplicate service ids, bad addresses', () => {
  const base = (services: unknown[] = [], checks: unknown[] = []): unknown[] => ['n', '10.0.0.1', 'dc1', {}, 1, 1, services, checks];
  const svc = (id: string, extra: Partial<Record<number, unknown>> = {}): unknown[] => {
    const t: unknown[] = [id, 'web', '', '', 80, [], {}, 1, 1, false, 'default', null, 'api'];
    for (const [i, v] of Object.entries(extra)) t[Number(i)] = v;
    return t;
  };
  const reason = (v: unknown): string => {
    try {
      decodeCatalogMessage(encode([1, v]));
      return 'accepted';
    } catch (err) {
      return `${(err as CatalogCodecError).reason}: ${(err as Error).message}`;
    }
  };
  assert.match(reason(base([svc('a'), svc('a')])), /^shape: .*unique service ids/);
  assert.match(reason(base([svc('a', { 5: Array(65).fill('t') })])), /^size: full.catalog.services\[0\].tags: at most 64/);
  assert.match(reason(base([svc('x'.repeat(257))])), /^size: full.catalog.services\[0\].id/);
  assert.match(reason(base([svc('a', { 4: 70000 })])), /^shape: full.catalog.services\[0\].port/);
  assert.match(reason(base([svc('a', { 6: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) })])), /^size: .*meta: at most 64/);
  assert.match(reason(base([svc('a', { 2: 'mesh-gateway' })])), /^shape: .*kind/);
  assert.match(reason(base([], [['c', 'c', 'unknown', '', '', '', '', [], 'http', '', '']])), /^shape: .*status/);
  assert.match(reason(base([], [['c', 'c', 'passing', '', 'x'.repeat(4097), '', '', [], 'http', '', '']])), /^size: .*output/);
  assert.match(reason(['n\u0000', '', '', {}, 1, 1, [], []]), /control characters/);
  assert.equal(reason(base([svc('a')])), 'accepted');
  assert.throws(() => decodeCatalogMessage(encode([2, 'n', 1, 1, '10.0.0.1', 'x:1'])), /host:port/);
});
