import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { VirtualClock } from '../../src/core/clock';
import { CodecError, encodeCompound, encodeMessage, splitBody } from '../../src/gossip/codec';
import { Keyring } from '../../src/gossip/keyring';
import { PacketSealer, type PacketSealerOptions, crc32 } from '../../src/gossip/packet';

const key1 = randomBytes(32);
const key2 = randomBytes(16);

function sealer(opts: Partial<PacketSealerOptions> = {}): PacketSealer {
  return new PacketSealer({
    label: 'dc1',
    keyring: null,
    verifyIncoming: true,
    verifyOutgoing: true,
    clock: new VirtualClock(),
    ...opts,
  });
}

/** An encrypting sealer with its own keyring holding `keys` (primary first). */
function secure(keys: Buffer[] = [key1], opts: Partial<PacketSealerOptions> = {}): PacketSealer {
  return sealer({ keyring: new Keyring(keys), ...opts });
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CodecError) return err.reason;
    throw err;
  }
  return 'ok';
}

const body = encodeMessage({ type: 'ping', seqNo: 9, target: 'node-2', sourceNode: 'node-1', sourceAddr: '10.0.0.1:7946' });

describe('crc32', () => {
  test('matches the IEEE check value and zlib for known inputs', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
    assert.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
  });
});

describe('PacketSealer layout and round trip', () => {
  const labelArb = fc.string({ unit: 'grapheme', maxLength: 60 }).filter((l) => Buffer.byteLength(l) <= 255);

  test('plain and encrypted packets round-trip; overheadBytes is exact', () => {
    fc.assert(
      fc.property(labelArb, fc.uint8Array({ maxLength: 1400 }), fc.boolean(), (label, b, encrypted) => {
        const s = encrypted ? secure([key1], { label }) : sealer({ label });
        const packet = s.seal(b);
        assert.equal(packet.length - b.length, s.overheadBytes());
        assert.deepStrictEqual(new Uint8Array(s.open(packet)), b);
      }),
    );
  });

  test('the header is version, flags, label length, label; plain payload is CRC then body', () => {
    const packet = sealer().seal(body);
    assert.deepStrictEqual([...packet.subarray(0, 6)], [1, 0, 3, ...Buffer.from('dc1')]);
    assert.equal(packet.readUInt32BE(6), crc32(body));
    assert.deepStrictEqual(packet.subarray(10), body);
    const sealed = secure().seal(body);
    assert.deepStrictEqual([...sealed.subarray(0, 6)], [1, 1, 3, ...Buffer.from('dc1')]);
    assert.equal(sealed[6], 1, 'keyring version byte');
    assert.equal(sealed.length, 6 + 1 + 12 + body.length + 16);
  });

  test('overheadBytes follows the keyring and the outgoing toggle', () => {
    const s = sealer({ label: 'prod-eu' });
    assert.equal(s.overheadBytes(), 3 + 7 + 4);
    s.setKeyring(new Keyring([key1]));
    assert.equal(s.overheadBytes(), 3 + 7 + 29);
    s.setVerify(false, false);
    assert.equal(s.overheadBytes(), 3 + 7 + 4);
    assert.equal(s.encrypting, false);
  });

  test('a compound filling the UDP budget exactly fits after sealing', () => {
    const s = secure();
    const budget = 1400 - s.overheadBytes();
    const part = Buffer.alloc(budget - 2 - 2, 9);
    const packet = s.seal(encodeCompound([part]));
    assert.equal(packet.length, 1400);
    assert.deepStrictEqual(splitBody(s.open(packet)), [part]);
  });

  test('labels longer than 255 bytes are refused at construction; 255 is fine', () => {
    assert.throws(() => sealer({ label: 'é'.repeat(128) }), RangeError);
    assert.equal(sealer({ label: 'x'.repeat(255) }).label, 'x'.repeat(255));
  });
});

describe('PacketSealer.open refusals', () => {
  test('header problems: empty and short are truncated, other versions are version', () => {
    const s = sealer();
    const packet = s.seal(body);
    assert.equal(reasonOf(() => s.open(Buffer.alloc(0))), 'truncated');
    assert.equal(reasonOf(() => s.open(packet.subarray(0, 2))), 'truncated');
    assert.equal(reasonOf(() => s.open(packet.subarray(0, 4))), 'truncated');
    assert.equal(reasonOf(() => s.open(Buffer.concat([Buffer.of(2), packet.subarray(1)]))), 'version');
    assert.equal(reasonOf(() => s.open(Buffer.concat([Buffer.of(1, 0x80), packet.subarray(2)]))), 'version');
  });

  test("another cluster's label is refused, plain or encrypted, even with the right key", () => {
    assert.equal(reasonOf(() => sealer({ label: 'dc2' }).open(sealer().seal(body))), 'label');
    assert.equal(reasonOf(() => secure([key1], { label: 'dc2' }).open(secure([key1]).seal(body))), 'label');
    assert.equal(reasonOf(() => sealer({ label: '' }).open(sealer().seal(body))), 'label');
  });

  test('relabelling an encrypted packet breaks its authentication', () => {
    const packet = secure([key1], { label: 'dc1' }).seal(body);
    packet.write('dc2', 3, 'utf8');
    assert.equal(reasonOf(() => secure([key1], { label: 'dc2' }).open(packet)), 'decrypt');
  });

  test('encrypted input without a keyring is encrypted; plain input under verifyIncoming is unencrypted', () => {
    assert.equal(reasonOf(() => sealer().open(secure().seal(body))), 'encrypted');
    assert.equal(reasonOf(() => secure().open(sealer().seal(body))), 'unencrypted');
    assert.equal(reasonOf(() => secure([key1], { verifyIncoming: false }).open(sealer().seal(body))), 'ok');
  });

  test('a corrupted plain body fails the CRC', () => {
    const packet = sealer().seal(body);
    packet[packet.length - 1]! ^= 0x10;
    assert.equal(reasonOf(() => sealer().open(packet)), 'crc');
  });

  test('a packet sealed with a key we do not hold is decrypt', () => {
    assert.equal(reasonOf(() => secure([key2]).open(secure([key1]).seal(body))), 'decrypt');
  });

  test('any bit flip in an encrypted payload is decrypt; in the header, some refusal', () => {
    const s = secure();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (b, at, bit) => {
        const packet = s.seal(b);
        const headerBytes = 3 + 3;
        const i = at % packet.length;
        packet[i]! ^= 1 << bit;
        const reason = reasonOf(() => s.open(packet));
        if (i >= headerBytes) assert.equal(reason, 'decrypt');
        else assert.notEqual(reason, 'ok');
      }),
      { numRuns: 2000 },
    );
  });
});

describe('replay protection', () => {
  test('an accepted encrypted packet is refused the second time', () => {
    const s = secure();
    const packet = s.seal(body);
    assert.equal(reasonOf(() => s.open(packet)), 'ok');
    assert.equal(reasonOf(() => s.open(packet)), 'replay');
    assert.equal(reasonOf(() => s.open(s.seal(body))), 'ok', 'the same body sealed again is new');
  });

  test('a packet that fails authentication does not enter the window', () => {
    const s = secure();
    const packet = s.seal(body);
    const forged = Buffer.from(packet);
    forged[forged.length - 1]! ^= 1;
    assert.equal(reasonOf(() => s.open(forged)), 'decrypt');
    assert.equal(reasonOf(() => s.open(packet)), 'ok');
  });

  test('the window is bounded: after N newer packets the oldest nonce is forgotten', () => {
    const s = secure([key1], { replayWindowEntries: 4 });
    const first = s.seal(body);
    s.open(first);
    for (let i = 0; i < 3; i++) s.open(s.seal(body));
    assert.equal(reasonOf(() => s.open(first)), 'replay');
    s.open(s.seal(body));
    assert.equal(reasonOf(() => s.open(first)), 'ok', 'evicted: the documented limit of a fixed window');
  });

  test('replayWindowSpanMs reports how far back the window reaches', () => {
    const clock = new VirtualClock();
    const s = secure([key1], { clock, replayWindowEntries: 3 });
    assert.equal(s.replayWindowSpanMs(), 0);
    for (let i = 0; i < 5; i++) {
      s.open(s.seal(body));
      clock.advance(1000);
    }
    // Entries accepted at 2000, 3000, 4000 remain; now is 5000.
    assert.equal(s.replayWindowSpanMs(), 3000);
  });

  test('replayWindowEntries must be a positive integer', () => {
    assert.throws(() => secure([key1], { replayWindowEntries: 0 }), RangeError);
    assert.throws(() => secure([key1], { replayWindowEntries: 1.5 }), RangeError);
  });
});

describe('live changes', () => {
  test('switching encryption on in a running cluster drops nothing', () => {
    // Three steps on two members: keys installed with both toggles off, then outgoing, then incoming.
    const a = sealer({ verifyIncoming: false, verifyOutgoing: false });
    const b = sealer({ verifyIncoming: false, verifyOutgoing: false });
    const exchange = (): void => {
      assert.equal(reasonOf(() => b.open(a.seal(body))), 'ok');
      assert.equal(reasonOf(() => a.open(b.seal(body))), 'ok');
    };
    exchange();
    a.setKeyring(new Keyring([key1]));
    exchange();
    b.setKeyring(new Keyring([key1]));
    exchange();
    a.setVerify(false, true);
    exchange();
    b.setVerify(false, true);
    exchange();
    a.setVerify(true, true);
    b.setVerify(true, true);
    exchange();
    // A member still sending plain is now refused.
    assert.equal(reasonOf(() => a.open(sealer().seal(body))), 'unencrypted');
  });

  test('rotating keys on a shared keyring keeps every installed key working', () => {
    const ring = new Keyring([key1]);
    const s = sealer({ keyring: ring });
    const old = s.seal(body);
    ring.install(key2);
    const fromNewPeer = secure([key2]).seal(body);
    assert.equal(reasonOf(() => s.open(fromNewPeer)), 'ok');
    ring.use(key2);
    assert.equal(reasonOf(() => secure([key2]).open(s.seal(body))), 'ok', 'we now send with the new key');
    assert.equal(reasonOf(() => s.open(old)), 'ok', 'the old key still decrypts');
    ring.remove(key1);
    assert.equal(reasonOf(() => s.open(secure([key1]).seal(body))), 'decrypt');
  });

  test('dropping the keyring makes encrypted input refused as encrypted', () => {
    const s = secure();
    const packet = s.seal(body);
    s.setKeyring(null);
    assert.equal(reasonOf(() => s.open(packet)), 'encrypted');
    assert.equal(s.keyring, null);
  });
});

describe('robustness', () => {
  const configs: [string, () => PacketSealer][] = [
    ['plain', () => sealer()],
    ['encrypted, verifying', () => secure()],
    ['encrypted, lenient', () => secure([key1, key2], { verifyIncoming: false })],
  ];

  for (const [name, make] of configs) {
    test(`open on arbitrary bytes only ever raises CodecError (${name})`, () => {
      const s = make();
      const header = (flags: number): Buffer => Buffer.of(1, flags, 3, ...Buffer.from('dc1'));
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 200 })).map(([f, rest]) => Buffer.concat([header(f), rest])),
      );
      fc.assert(fc.property(input, (b) => void reasonOf(() => s.open(b))), { numRuns: 3000 });
    });

    test(`every proper prefix of a packet is refused (${name})`, () => {
      const s = make();
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (b) => {
          const packet = s.seal(b);
          for (let n = 0; n < packet.length; n++) {
            // reasonOf fails the test on anything but a CodecError. A plain prefix could match its
            // CRC by chance (2^-32) and decode cleanly; an encrypted one can never authenticate.
            const r = reasonOf(() => s.open(packet.subarray(0, n)));
            if (s.encrypting) assert.notEqual(r, 'ok');
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  test('open works on views into a larger buffer', () => {
    const s = secure();
    const packet = s.seal(body);
    const big = Buffer.concat([Buffer.alloc(7, 0xee), packet, Buffer.alloc(5, 0xee)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 7, packet.length);
    assert.deepStrictEqual(s.open(view), body);
    const plain = sealer().seal(body);
    const big2 = Buffer.concat([Buffer.alloc(3), plain]);
    assert.deepStrictEqual(sealer().open(big2.subarray(3)), body);
  });
});
