import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/gossip/codec';
import { ENCRYPTION_OVERHEAD_BYTES, Keyring, generateKey } from '../../src/gossip/keyring';

const k16 = Buffer.alloc(16, 1);
const k24 = Buffer.alloc(24, 2);
const k32 = Buffer.alloc(32, 3);
const aad = Buffer.from('header');

/** Every representation of a key an error message could leak. */
function leaks(message: string, key: Buffer): boolean {
  return [key.toString('base64'), key.toString('hex'), key.toString('base64url')].some((s) => message.includes(s));
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected an error');
}

function reasonOf(fn: () => unknown): string {
  const err = errorOf(fn);
  assert.ok(err instanceof CodecError, `expected CodecError, got ${err.name}`);
  return err.reason;
}

describe('Keyring.parseKey', () => {
  test('accepts base64 of 16, 24 and 32 bytes, ignoring surrounding whitespace', () => {
    for (const k of [k16, k24, k32]) {
      assert.deepStrictEqual(Keyring.parseKey(k.toString('base64')), k);
      assert.deepStrictEqual(Keyring.parseKey(` ${k.toString('base64')}\n`), k);
    }
  });

  test('rejects other lengths, naming the field and the expectation but never the key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 6, maxLength: 64 }).filter((b) => ![16, 24, 32].includes(b.length)),
        fc.constantFrom('encrypt', 'gossip.keys[2]'),
        (bytes, field) => {
          const key = Buffer.from(bytes);
          const err = errorOf(() => Keyring.parseKey(key.toString('base64'), field));
          assert.ok(err.message.startsWith(`${field}:`), err.message);
          assert.match(err.message, /16, 24 or 32 byte/);
          assert.match(err.message, new RegExp(`${key.length} bytes`));
          assert.ok(!leaks(err.message, key), err.message);
        },
      ),
    );
  });

  test('rejects text that is not canonical base64 without echoing it', () => {
    const good = k32.toString('base64');
    const bad = [good.slice(0, -1), `${good.slice(0, 10)}!${good.slice(11)}`, good.replace(/=$/, ''), k32.toString('base64url'), '', 'not a key'];
    for (const b of bad) {
      const err = errorOf(() => Keyring.parseKey(b));
      assert.match(err.message, /^encrypt: expected base64/);
      if (b.length >= 4) assert.ok(!err.message.includes(b), err.message);
    }
  });
});

describe('Keyring management', () => {
  test('the primary defaults to the first key and comes first in keys() and list()', () => {
    const ring = new Keyring([k16, k24]);
    assert.deepStrictEqual(ring.primary(), k16);
    assert.deepStrictEqual(ring.keys(), [k16, k24]);
    assert.deepStrictEqual(ring.list(), [k16.toString('base64'), k24.toString('base64')]);
  });

  test('an explicit primary is installed and put first', () => {
    const ring = new Keyring([k16, k24], k32);
    assert.deepStrictEqual(ring.keys(), [k32, k16, k24]);
    const fromText = Keyring.fromBase64([k16.toString('base64'), k24.toString('base64')], k24.toString('base64'));
    assert.deepStrictEqual(fromText.keys(), [k24, k16]);
  });

  test('fromBase64 names the offending entry', () => {
    assert.throws(() => Keyring.fromBase64([k16.toString('base64'), 'AAAA']), /^Error: keys\[1\]: expected/);
    assert.throws(() => Keyring.fromBase64([k16.toString('base64')], 'AAAA'), /^Error: primary: expected/);
  });

  test('install is idempotent, use requires an installed key, has reports membership', () => {
    const ring = new Keyring([k16]);
    ring.install(k32);
    ring.install(Buffer.from(k32));
    assert.equal(ring.keys().length, 2);
    assert.ok(ring.has(k32));
    assert.ok(!ring.has(k24));
    assert.throws(() => ring.use(k24), /not installed/);
    ring.use(k32);
    assert.deepStrictEqual(ring.keys(), [k32, k16]);
  });

  test('the primary cannot be removed; others can, and removing an absent key is a no-op', () => {
    const ring = new Keyring([k16, k24]);
    const err = errorOf(() => ring.remove(k16));
    assert.match(err.message, /cannot remove the primary key; use another key first/);
    ring.remove(k24);
    ring.remove(k32);
    assert.deepStrictEqual(ring.keys(), [k16]);
  });

  test('bad key sizes and an empty keyring are refused without echoing the key', () => {
    const odd = randomBytes(20);
    for (const fn of [() => new Keyring([odd]), () => new Keyring([k16]).install(odd), () => new Keyring([])]) {
      const err = errorOf(fn);
      assert.ok(!leaks(err.message, odd), err.message);
    }
  });

  test('the keyring keeps its own copies', () => {
    const mine = Buffer.from(k16);
    const ring = new Keyring([mine]);
    mine.fill(0);
    ring.keys()[0]!.fill(0);
    ring.primary().fill(0);
    assert.deepStrictEqual(ring.primary(), k16);
  });
});

describe('Keyring encryption', () => {
  test('round-trips with every key size; layout is version, nonce, ciphertext, tag', () => {
    fc.assert(
      fc.property(fc.constantFrom(k16, k24, k32), fc.uint8Array({ maxLength: 1500 }), fc.uint8Array({ maxLength: 300 }), (key, plain, ad) => {
        const ring = new Keyring([key]);
        const sealed = ring.encrypt(plain, ad);
        assert.equal(sealed.length, plain.length + ENCRYPTION_OVERHEAD_BYTES);
        assert.equal(ENCRYPTION_OVERHEAD_BYTES, 1 + 12 + 16);
        assert.equal(sealed[0], 1);
        assert.deepStrictEqual(new Uint8Array(ring.decrypt(sealed, ad)), plain);
      }),
    );
  });

  test('nonces are fresh: the same plaintext never seals to the same bytes', () => {
    const ring = new Keyring([k32]);
    const a = ring.encrypt(Buffer.from('same'), aad);
    const b = ring.encrypt(Buffer.from('same'), aad);
    assert.notDeepStrictEqual(a.subarray(1, 13), b.subarray(1, 13));
  });

  test('wrong AAD, wrong key, tampering, unknown version: decrypt; too short: truncated', () => {
    const ring = new Keyring([k32]);
    const sealed = ring.encrypt(Buffer.from('hello'), aad);
    assert.equal(reasonOf(() => ring.decrypt(sealed, Buffer.from('other'))), 'decrypt');
    assert.equal(reasonOf(() => new Keyring([k16]).decrypt(sealed, aad)), 'decrypt');
    const versioned = Buffer.from(sealed);
    versioned[0] = 2;
    assert.equal(reasonOf(() => ring.decrypt(versioned, aad)), 'decrypt');
    assert.equal(reasonOf(() => ring.decrypt(sealed.subarray(0, ENCRYPTION_OVERHEAD_BYTES - 1), aad)), 'truncated');
    assert.equal(ring.decrypt(ring.encrypt(Buffer.alloc(0), aad), aad).length, 0);
  });

  test('every single-bit flip is rejected as decrypt', () => {
    const ring = new Keyring([k24]);
    const sealed = ring.encrypt(Buffer.from('alive node-1 incarnation 7'), aad);
    for (let i = 0; i < sealed.length * 8; i++) {
      const flipped = Buffer.from(sealed);
      flipped[i >> 3]! ^= 1 << (i & 7);
      assert.equal(reasonOf(() => ring.decrypt(flipped, aad)), 'decrypt', `bit ${i}`);
    }
  });

  test('decryption failures never mention key material', () => {
    const keys = [randomBytes(32), randomBytes(16)];
    const ring = new Keyring(keys);
    const foreign = new Keyring([randomBytes(32)]).encrypt(Buffer.from('x'), aad);
    const err = errorOf(() => ring.decrypt(foreign, aad));
    for (const k of keys) assert.ok(!leaks(err.message, k));
  });
});

describe('key rotation', () => {
  // A pool of keys and a model of which are installed; after each step, traffic sealed by any
  // installed key (as a peer that made it primary would send) must decrypt, and removed keys must not.
  const pool = [randomBytes(16), randomBytes(24), randomBytes(32), randomBytes(32)];
  const step = fc.record({ op: fc.constantFrom('install', 'use', 'remove'), key: fc.integer({ min: 0, max: pool.length - 1 }) });

  test('install, use, remove keep decrypting packets sealed with any installed key', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
        const ring = new Keyring([pool[0]!]);
        for (const { op, key } of steps) {
          const k = pool[key]!;
          const before = ring.list();
          try {
            ring[op as 'install' | 'use' | 'remove'](k);
          } catch (err) {
            // Only two refusals exist, and neither changes the keyring.
            assert.ok((op === 'use' && !before.includes(k.toString('base64'))) || (op === 'remove' && ring.primary().equals(k)));
            assert.deepStrictEqual(ring.list(), before);
            assert.ok(err instanceof Error && !pool.some((p) => leaks(err.message, p)));
          }
          for (const p of pool) {
            const sealed = new Keyring([p]).encrypt(Buffer.from('payload'), aad);
            if (ring.has(p)) assert.equal(ring.decrypt(sealed, aad).toString(), 'payload');
            else assert.equal(reasonOf(() => ring.decrypt(sealed, aad)), 'decrypt');
          }
          // Our own output is sealed with the primary, which every peer holding it can read.
          assert.equal(new Keyring([ring.primary()]).decrypt(ring.encrypt(Buffer.from('out'), aad), aad).toString(), 'out');
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('generateKey', () => {
  test('makes distinct 32-byte keys that parseKey accepts', () => {
    const a = generateKey();
    const b = generateKey();
    assert.notEqual(a, b);
    assert.equal(Keyring.parseKey(a).length, 32);
  });
});
