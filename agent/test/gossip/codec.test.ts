import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import {
  COMPOUND_HEADER_BYTES,
  COMPOUND_PART_OVERHEAD,
  CodecError,
  decodeMessage,
  encodeCompound,
  encodeMessage,
  messageTypeName,
  splitBody,
  splitBodyLenient,
} from '../../src/gossip/codec';
import { type Message, MessageType, type PushNodeState } from '../../src/gossip/messages';
import type { DropReason } from '../../src/gossip/metrics';

// ---------------------------------------------------------------------------------------------
// Arbitraries: one per Message shape, covering the edges of every validation rule.
// ---------------------------------------------------------------------------------------------

const noControl = (s: string): boolean => !/[\u0000-\u001f\u007f]/.test(s); // eslint-disable-line no-control-regex

const nameArb = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => s.length <= 128 && noControl(s)),
  fc.constant('n'.repeat(128)),
);
const portArb = fc.integer({ min: 1, max: 65535 });
const addrArb = fc.oneof(
  fc.tuple(fc.ipV4(), portArb).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), portArb).map(([h, p]) => `[${h}]:${p}`),
  fc.tuple(fc.domain(), portArb).map(([h, p]) => `${h}:${p}`).filter((a) => a.length <= 64),
);
const uintArb = fc.oneof(fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat());
const bytesArb = fc.uint8Array({ maxLength: 64 });
const tagsArb = fc.dictionary(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((k) => k.length <= 64 && noControl(k) && k !== '__proto__'),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  { maxKeys: 8, noNullPrototype: true },
);
const protocolArb = fc.integer({ min: 0, max: 255 });
const stateArb = fc.constantFrom('alive', 'suspect', 'dead', 'left') as fc.Arbitrary<PushNodeState['state']>;
const rec = { noNullPrototype: true } as const;

const nodeArb: fc.Arbitrary<PushNodeState> = fc.record(
  { name: nameArb, addr: addrArb, incarnation: uintArb, state: stateArb, tags: tagsArb, protocol: protocolArb },
  rec,
);

const messageArbs: { [T in Message['type']]: fc.Arbitrary<Extract<Message, { type: T }>> } = {
  ping: fc.record({ type: fc.constant('ping'), seqNo: uintArb, target: nameArb, sourceNode: nameArb, sourceAddr: addrArb }, rec),
  indirectPing: fc.record(
    {
      type: fc.constant('indirectPing'), seqNo: uintArb, target: nameArb, targetAddr: addrArb,
      nack: fc.boolean(), sourceNode: nameArb, sourceAddr: addrArb,
    },
    rec,
  ),
  ack: fc.record({ type: fc.constant('ack'), seqNo: uintArb, payload: bytesArb }, { ...rec, requiredKeys: ['type', 'seqNo'] }),
  nack: fc.record({ type: fc.constant('nack'), seqNo: uintArb }, rec),
  suspect: fc.record({ type: fc.constant('suspect'), incarnation: uintArb, node: nameArb, from: nameArb }, rec),
  alive: fc.record(
    { type: fc.constant('alive'), incarnation: uintArb, node: nameArb, addr: addrArb, tags: tagsArb, protocol: protocolArb },
    rec,
  ),
  dead: fc.record({ type: fc.constant('dead'), incarnation: uintArb, node: nameArb, from: nameArb }, rec),
  pushPull: fc.record(
    { type: fc.constant('pushPull'), join: fc.boolean(), nodes: fc.array(nodeArb, { maxLength: 5 }), userState: bytesArb },
    { ...rec, requiredKeys: ['type', 'join', 'nodes'] },
  ),
  user: fc.record({ type: fc.constant('user'), payload: bytesArb }, rec),
  query: fc.record(
    {
      type: fc.constant('query'), id: uintArb, ltime: uintArb, originNode: nameArb, originAddr: addrArb,
      name: nameArb, payload: bytesArb, timeoutMs: uintArb,
    },
    rec,
  ),
  queryResponse: fc.record(
    { type: fc.constant('queryResponse'), id: uintArb, ltime: uintArb, fromNode: nameArb, payload: bytesArb },
    rec,
  ),
};

/** Any message. */
const messageArb: fc.Arbitrary<Message> = fc.oneof(...Object.values(messageArbs));

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/** A type byte followed by an arbitrary msgpack body: lets tests hand-craft wrong shapes. */
function raw(type: number, body: unknown): Buffer {
  return Buffer.concat([Buffer.of(type), encode(body)]);
}

function codecReason(fn: () => unknown): DropReason | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof CodecError) return err.reason;
    throw err; // anything else fails the test: the contract is CodecError only
  }
}

const ping: Message = { type: 'ping', seqNo: 7, target: 'node-2', sourceNode: 'node-1', sourceAddr: '10.0.0.1:7946' };

// ---------------------------------------------------------------------------------------------

describe('encodeMessage / decodeMessage', () => {
  for (const [type, arb] of Object.entries(messageArbs)) {
    test(`${type} round-trips, and its bytes are canonical`, () => {
      fc.assert(
        fc.property(arb as fc.Arbitrary<Message>, (m) => {
          const bytes = encodeMessage(m);
          assert.equal(bytes[0], MessageType[m.type]);
          assert.equal(messageTypeName(bytes), m.type);
          const back = decodeMessage(bytes);
          assert.deepStrictEqual(back, m);
          assert.deepStrictEqual(encodeMessage(back), bytes);
        }),
        { numRuns: 200 },
      );
    });
  }

  test('every proper prefix of an encoded message is rejected as truncated', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const bytes = encodeMessage(m);
        for (let n = 0; n < bytes.length; n++) assert.equal(codecReason(() => decodeMessage(bytes.subarray(0, n))), 'truncated');
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary bytes only ever raise CodecError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void codecReason(() => decodeMessage(b))), { numRuns: 5000 });
  });

  test('well-formed msgpack of the wrong shape only ever raises CodecError', () => {
    const field = fc.oneof(
      fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 10 }), fc.boolean(), fc.constant(null),
      fc.uint8Array({ maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.anything({ maxDepth: 1 }), { maxKeys: 3 }),
      fc.array(fc.anything({ maxDepth: 1 }), { maxLength: 7 }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 13 }), fc.array(field, { maxLength: 8 }), (type, tuple) => {
        void codecReason(() => decodeMessage(raw(type, tuple)));
      }),
      { numRuns: 5000 },
    );
  });

  test('bit flips in a valid message are rejected or decode to a valid message', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (m, at, bit) => {
        const bytes = encodeMessage(m);
        bytes[at % bytes.length]! ^= 1 << bit;
        let back: Message;
        try {
          back = decodeMessage(bytes);
        } catch (err) {
          assert.ok(err instanceof CodecError);
          return;
        }
        // Whatever got through is itself a valid message: it survives another round trip.
        assert.deepStrictEqual(decodeMessage(encodeMessage(back)), back);
      }),
      { numRuns: 2000 },
    );
  });

  test('lengths claimed beyond the input are truncated, without allocating them', () => {
    const cases = [
      [MessageType.ping, 0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4G elements
      [MessageType.ping, 0xdf, 0xff, 0xff, 0xff, 0xff], // map32
      [MessageType.user, 0x91, 0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
      [MessageType.ping, 0x94, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff], // str32
      [MessageType.ping, 0xdc, 0xff, 0xff], // array16 of 65535
    ];
    for (const c of cases) assert.equal(codecReason(() => decodeMessage(Buffer.from(c))), 'truncated', `case ${c}`);
  });

  test('deeply nested input is rejected without overflowing the stack', () => {
    const deep = Buffer.alloc(100_001, 0x91);
    deep[0] = MessageType.ping;
    assert.equal(codecReason(() => decodeMessage(deep)), 'truncated');
    deep[deep.length - 1] = 0x01;
    assert.equal(codecReason(() => decodeMessage(deep)), 'malformed');
  });

  const table: [string, Buffer, DropReason | 'ok'][] = [
    ['empty input', Buffer.alloc(0), 'truncated'],
    ['type byte only', Buffer.of(MessageType.ping), 'truncated'],
    ['unknown type', raw(99, [1]), 'unexpected'],
    ['type 0', raw(0, [1]), 'unexpected'],
    ['compound where a message is expected', encodeCompound([encodeMessage(ping)]), 'unexpected'],
    ['body not an array', raw(MessageType.nack, { seqNo: 1 }), 'malformed'],
    ['too few fields', raw(MessageType.ping, [1, 'a', 'b']), 'malformed'],
    ['too many fields', raw(MessageType.nack, [1, 2]), 'malformed'],
    ['trailing bytes after the body', Buffer.concat([raw(MessageType.nack, [1]), Buffer.of(0)]), 'malformed'],
    ['invalid msgpack byte', Buffer.of(MessageType.nack, 0xc1), 'malformed'],
    ['seqNo as a string', raw(MessageType.nack, ['1']), 'malformed'],
    ['negative seqNo', raw(MessageType.nack, [-1]), 'invalid'],
    ['fractional seqNo', raw(MessageType.nack, [1.5]), 'invalid'],
    ['seqNo 2^53', raw(MessageType.nack, [2 ** 53]), 'invalid'],
    ['seqNo 2^53 - 1', raw(MessageType.nack, [2 ** 53 - 1]), 'ok'],
    ['seqNo NaN', raw(MessageType.nack, [NaN]), 'invalid'],
    ['empty name', raw(MessageType.ping, [1, '', 'a', 'h:1']), 'invalid'],
    ['128-char name', raw(MessageType.ping, [1, 'x'.repeat(128), 'a', 'h:1']), 'ok'],
    ['129-char name', raw(MessageType.ping, [1, 'x'.repeat(129), 'a', 'h:1']), 'invalid'],
    ['control character in a name', raw(MessageType.ping, [1, 'a\nb', 'a', 'h:1']), 'invalid'],
    ['lone surrogate in a name', Buffer.of(MessageType.ping, 0x94, 1, 0xa3, 0xed, 0xa0, 0x80, 0xa1, 0x61, 0xa3, 0x68, 0x3a, 0x31), 'invalid'],
    ['addr without port', raw(MessageType.ping, [1, 'a', 'b', '10.0.0.1']), 'invalid'],
    ['addr port 0', raw(MessageType.ping, [1, 'a', 'b', '10.0.0.1:0']), 'invalid'],
    ['addr port 65536', raw(MessageType.ping, [1, 'a', 'b', '10.0.0.1:65536']), 'invalid'],
    ['addr unbracketed IPv6', raw(MessageType.ping, [1, 'a', 'b', '::1:7946']), 'invalid'],
    ['addr bracketed IPv6', raw(MessageType.ping, [1, 'a', 'b', '[fe80::1%eth0]:7946']), 'ok'],
    ['addr of 65 chars', raw(MessageType.ping, [1, 'a', 'b', `${'h'.repeat(60)}:7946`]), 'invalid'],
    ['addr of 64 chars', raw(MessageType.ping, [1, 'a', 'b', `${'h'.repeat(59)}:7946`]), 'ok'],
    ['addr with a space', raw(MessageType.ping, [1, 'a', 'b', 'my host:7946']), 'invalid'],
    ['nack flag not boolean', raw(MessageType.indirectPing, [1, 'a', 'h:1', 1, 'b', 'h:2']), 'malformed'],
    ['tags as an array', raw(MessageType.alive, [1, 'a', 'h:1', ['x'], 1]), 'malformed'],
    ['tag value a number', raw(MessageType.alive, [1, 'a', 'h:1', { role: 1 }, 1]), 'malformed'],
    ['tag key of 65 chars', raw(MessageType.alive, [1, 'a', 'h:1', { ['k'.repeat(65)]: 'v' }, 1]), 'invalid'],
    ['tag key of 64 chars', raw(MessageType.alive, [1, 'a', 'h:1', { ['k'.repeat(64)]: 'v' }, 1]), 'ok'],
    ['empty tag key', raw(MessageType.alive, [1, 'a', 'h:1', { '': 'v' }, 1]), 'invalid'],
    ['timestamp extension as tags', raw(MessageType.alive, [1, 'a', 'h:1', new Date(0), 1]), 'malformed'],
    ['protocol 256', raw(MessageType.alive, [1, 'a', 'h:1', {}, 256]), 'invalid'],
    ['payload as a string', raw(MessageType.user, ['hello']), 'malformed'],
    ['ack payload as a number', raw(MessageType.ack, [1, 2]), 'malformed'],
    ['push-pull state code 4', raw(MessageType.pushPull, [false, [['a', 'h:1', 1, 4, {}, 1]]]), 'invalid'],
    ['push-pull state as a name', raw(MessageType.pushPull, [false, [['a', 'h:1', 1, 'alive', {}, 1]]]), 'malformed'],
    ['push-pull node of wrong arity', raw(MessageType.pushPull, [false, [['a', 'h:1', 1, 0, {}]]]), 'malformed'],
    ['push-pull nodes not an array', raw(MessageType.pushPull, [false, {}]), 'malformed'],
  ];
  for (const [what, bytes, reason] of table) {
    test(`${what}: ${reason}`, () => assert.equal(codecReason(() => decodeMessage(bytes)), reason));
  }

  test('a non-string map key is malformed', () => {
    // alive [1, 'a', 'h:1', {1: 'v'}, 1] by hand: msgpack's encoder would stringify the key.
    const bytes = Buffer.of(MessageType.alive, 0x95, 1, 0xa1, 0x61, 0xa3, 0x68, 0x3a, 0x31, 0x81, 0x01, 0xa1, 0x76, 1);
    assert.equal(codecReason(() => decodeMessage(bytes)), 'malformed');
  });

  test('a push-pull list of 100000 members is accepted and 100001 refused', () => {
    const node = ['n', 'h:1', 1, 0, {}, 1];
    assert.equal(codecReason(() => decodeMessage(raw(MessageType.pushPull, [true, Array(100_000).fill(node)]))), 'ok');
    assert.equal(codecReason(() => decodeMessage(raw(MessageType.pushPull, [true, Array(100_001).fill(node)]))), 'invalid');
  });

  test('error messages name the field', () => {
    assert.throws(() => decodeMessage(raw(MessageType.ping, [1, 'a', 'b', 'nope'])), /ping\.sourceAddr/);
    assert.throws(() => decodeMessage(raw(MessageType.pushPull, [false, [['a', 'h:1', -1, 0, {}, 1]]])), /pushPull\.nodes\[0\]\.incarnation/);
  });

  test('decoded payloads are copies, not views of the receive buffer', () => {
    const bytes = encodeMessage({ type: 'user', payload: Uint8Array.of(1, 2, 3) });
    const m = decodeMessage(bytes) as { payload: Uint8Array };
    bytes.fill(0);
    assert.deepStrictEqual(m.payload, Uint8Array.of(1, 2, 3));
  });

  test('ack without a payload has no payload key after decoding', () => {
    const m = decodeMessage(encodeMessage({ type: 'ack', seqNo: 3 }));
    assert.deepStrictEqual(m, { type: 'ack', seqNo: 3 });
    assert.ok(!('payload' in m));
  });
});

describe('wire size', () => {
  const tags = { role: 'server', dc: 'dc1', region: 'eu-west-1', zone: 'eu-west-1a', port: '8443', version: '0.1.0' };
  const alive: Message = { type: 'alive', incarnation: 12, node: 'node-017.prod', addr: '10.12.4.17:7946', tags, protocol: 1 };
  const probe: Message = { type: 'ping', seqNo: 1_234_567, target: 'node-042.prod', sourceNode: 'node-017.prod', sourceAddr: '10.12.4.17:7946' };
  const ack: Message = { type: 'ack', seqNo: 1_234_567 };

  test('an alive with six tags, a ping and an ack are small', (t) => {
    const sizes = { alive: encodeMessage(alive).length, ping: encodeMessage(probe).length, ack: encodeMessage(ack).length };
    t.diagnostic(`alive(6 tags)=${sizes.alive} B, ping=${sizes.ping} B, ack=${sizes.ack} B`);
    assert.ok(sizes.alive <= 120, `alive is ${sizes.alive} bytes`);
    assert.ok(sizes.ping < 80, `ping is ${sizes.ping} bytes`);
    assert.ok(sizes.ack <= 8, `ack is ${sizes.ack} bytes`);
  });

  test('a full 1400-byte UDP budget holds dozens of alive broadcasts', () => {
    const one = encodeMessage(alive).length + COMPOUND_PART_OVERHEAD;
    assert.ok(Math.floor((1400 - COMPOUND_HEADER_BYTES) / one) >= 10);
  });
});

describe('compound messages', () => {
  const partsArb = fc.array(messageArb.map(encodeMessage), { minLength: 1, maxLength: 20 });

  test('split(encodeCompound(parts)) returns the parts, and the overhead constants are exact', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const c = encodeCompound(parts);
        const expected = COMPOUND_HEADER_BYTES + parts.reduce((n, p) => n + COMPOUND_PART_OVERHEAD + p.length, 0);
        assert.equal(c.length, expected);
        assert.equal(messageTypeName(c), 'compound');
        assert.deepStrictEqual(splitBody(c).map((p) => Buffer.from(p)), parts);
        assert.deepStrictEqual(splitBodyLenient(c), { parts: splitBody(c), truncated: false });
      }),
    );
  });

  test('a truncated compound keeps its complete parts (lenient) or is refused (strict)', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const c = encodeCompound(parts);
        for (let n = 0; n < c.length; n++) {
          const prefix = c.subarray(0, n);
          const { parts: got, truncated } = splitBodyLenient(prefix);
          assert.equal(truncated, true);
          assert.ok(got.length < parts.length);
          got.forEach((p, i) => assert.deepStrictEqual(Buffer.from(p), parts[i]));
          assert.equal(codecReason(() => splitBody(prefix)), 'truncated');
        }
      }),
      { numRuns: 50 },
    );
  });

  test('a single message splits into itself', () => {
    const m = encodeMessage(ping);
    assert.deepStrictEqual(splitBody(m), [m]);
  });

  test('nesting is refused on both sides', () => {
    const inner = encodeCompound([encodeMessage(ping)]);
    assert.throws(() => encodeCompound([inner]), RangeError);
    const nested = Buffer.concat([Buffer.of(MessageType.compound, 1), Buffer.from([0, inner.length]), inner]);
    assert.equal(codecReason(() => splitBody(nested)), 'unexpected');
    assert.equal(codecReason(() => splitBodyLenient(nested)), 'unexpected');
  });

  test('an empty compound and trailing bytes are malformed', () => {
    assert.equal(codecReason(() => splitBody(Buffer.of(MessageType.compound, 0))), 'malformed');
    const c = Buffer.concat([encodeCompound([encodeMessage(ping)]), Buffer.of(0)]);
    assert.equal(codecReason(() => splitBody(c)), 'malformed');
  });

  test('encodeCompound refuses what cannot be represented', () => {
    const m = encodeMessage(ping);
    assert.throws(() => encodeCompound([]), RangeError);
    assert.throws(() => encodeCompound(Array(256).fill(m)), RangeError);
    assert.doesNotThrow(() => encodeCompound(Array(255).fill(m)));
    assert.throws(() => encodeCompound([Buffer.alloc(0x10000, 9)]), RangeError);
    assert.throws(() => encodeCompound([Buffer.alloc(0)]), RangeError);
  });

  test('splitBodyLenient on arbitrary bytes only ever raises CodecError', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 })).map(([n, rest]) =>
        Buffer.concat([Buffer.of(MessageType.compound, n), rest]),
      ),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        void codecReason(() => {
          for (const part of splitBodyLenient(b).parts) void codecReason(() => decodeMessage(part));
        });
      }),
      { numRuns: 5000 },
    );
  });
});

describe('messageTypeName', () => {
  test('names every type and calls anything else unknown', () => {
    for (const [name, code] of Object.entries(MessageType)) assert.equal(messageTypeName(Buffer.of(code)), name);
    assert.equal(messageTypeName(Buffer.alloc(0)), 'unknown');
    assert.equal(messageTypeName(Buffer.of(0)), 'unknown');
    assert.equal(messageTypeName(Buffer.of(200)), 'unknown');
  });
});
