/**
 * The gossip encryption keys (memberlist's keyring.go + security.go). One key is primary and
 * encrypts everything we send; every installed key is tried on input, which is what makes a live
 * rotation possible: install the new key everywhere, `use` it everywhere, then remove the old one.
 *
 * Sealed layout: `version (1 byte = 1) | nonce (12 random bytes) | ciphertext | GCM tag (16 bytes)`.
 * Random 96-bit nonces stay collision-safe for about 2^32 messages per key (NIST SP 800-38D), far
 * beyond the life of a key that operators rotate.
 *
 * Key material never appears in an error message: errors say which field and what was expected.
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodecError } from './codec';

/** The encryption format version byte, first in every sealed payload. */
const ENCRYPTION_VERSION = 1;
/** GCM's recommended nonce size; random nonces of this size need no counter state. */
export const NONCE_BYTES = 12;
/** Full-length GCM tag: truncated tags weaken authentication for no useful saving. */
const TAG_BYTES = 16;
/** Bytes `encrypt` adds to a plaintext. */
export const ENCRYPTION_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;
/** Offset of the nonce in a sealed payload (for replay detection in `packet.ts`). */
export const NONCE_OFFSET = 1;

/** AES key sizes and the GCM cipher each selects. */
const CIPHERS: ReadonlyMap<number, 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm'> = new Map([
  [16, 'aes-128-gcm'],
  [24, 'aes-192-gcm'],
  [32, 'aes-256-gcm'],
] as const);

const EXPECTED = 'base64 of a 16, 24 or 32 byte key (AES-128, AES-192 or AES-256)';

function cipherFor(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  const c = CIPHERS.get(key.length);
  if (c === undefined) throw new Error(`gossip key: expected 16, 24 or 32 bytes, got ${key.length}`);
  return c;
}

/** A set of AES-GCM keys, one of them primary; shared by reference, so rotation applies at once. */
export class Keyring {
  /** Primary first, then the others in installation order; each a private copy. */
  private readonly ring: Buffer[] = [];

  /** Builds a keyring from base64 strings (config or CLI); errors name `keys[i]` or `primary`. */
  static fromBase64(keys: string[], primary?: string): Keyring {
    const parsed = keys.map((k, i) => Keyring.parseKey(k, `keys[${i}]`));
    return new Keyring(parsed, primary === undefined ? undefined : Keyring.parseKey(primary, 'primary'));
  }

  /**
   * Decodes one base64 key. Throws an Error naming `field` and what is expected; strict base64
   * (canonical, padded) so a typo is not silently decoded into a different key.
   */
  static parseKey(b64: string, field = 'encrypt'): Buffer {
    const text = typeof b64 === 'string' ? b64.trim() : '';
    const key = Buffer.from(text, 'base64');
    if (text.length === 0 || key.toString('base64') !== text) {
      throw new Error(`${field}: expected ${EXPECTED}; the value is not valid base64`);
    }
    if (!CIPHERS.has(key.length)) {
      throw new Error(`${field}: expected ${EXPECTED}; it decodes to ${key.length} bytes`);
    }
    return key;
  }

  /** @param primary defaults to `keys[0]`; installed if it is not among `keys`. */
  constructor(keys: Buffer[], primary?: Buffer) {
    const first = primary ?? keys[0];
    if (first === undefined) throw new Error('gossip keyring: expected at least one key');
    this.install(first);
    for (const k of keys) this.install(k);
  }

  /** Adds a key for decryption; a no-op when already installed. */
  install(key: Buffer): void {
    cipherFor(key);
    if (!this.has(key)) this.ring.push(Buffer.from(key));
  }

  /** Makes an installed key primary: every packet from now on is encrypted with it. */
  use(key: Buffer): void {
    const i = this.indexOf(key);
    if (i < 0) throw new Error('gossip keyring: cannot use a key that is not installed; install it first');
    const [k] = this.ring.splice(i, 1);
    this.ring.unshift(k!);
  }

  /** Removes a key; a no-op when not installed. The primary cannot be removed (`use` another first). */
  remove(key: Buffer): void {
    const i = this.indexOf(key);
    if (i === 0) throw new Error('gossip keyring: cannot remove the primary key; use another key first');
    if (i > 0) this.ring.splice(i, 1);
  }

  /** The key outgoing packets are encrypted with (a copy). */
  primary(): Buffer {
    return Buffer.from(this.ring[0]!);
  }

  /** Every installed key, primary first (copies). */
  keys(): Buffer[] {
    return this.ring.map((k) => Buffer.from(k));
  }

  /** Every installed key in base64, primary first (for `shoal keyring list`). */
  list(): string[] {
    return this.ring.map((k) => k.toString('base64'));
  }

  /** Whether `key` is installed. */
  has(key: Buffer): boolean {
    return this.indexOf(key) >= 0;
  }

  /** Seals `plain` with the primary key; `aad` is authenticated but not included. */
  encrypt(plain: Uint8Array, aad: Uint8Array): Buffer {
    const key = this.ring[0]!;
    const out = Buffer.allocUnsafe(ENCRYPTION_OVERHEAD_BYTES + plain.length);
    out[0] = ENCRYPTION_VERSION;
    const nonce = randomBytes(NONCE_BYTES);
    nonce.copy(out, NONCE_OFFSET);
    const cipher = createCipheriv(cipherFor(key), key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    let at = NONCE_OFFSET + NONCE_BYTES;
    at += cipher.update(plain).copy(out, at);
    at += cipher.final().copy(out, at);
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /**
   * Opens a sealed payload, trying the primary key first (the common case once a rotation is
   * complete) and then the others. Throws CodecError 'truncated' when shorter than the overhead and
   * 'decrypt' when no key authenticates it (an unknown version byte cannot authenticate either).
   */
  decrypt(data: Uint8Array, aad: Uint8Array): Buffer {
    if (data.length < ENCRYPTION_OVERHEAD_BYTES) {
      throw new CodecError('truncated', `encrypted payload of ${data.length} bytes is shorter than ${ENCRYPTION_OVERHEAD_BYTES}`);
    }
    if (data[0] !== ENCRYPTION_VERSION) throw new CodecError('decrypt', `unknown encryption version ${data[0]}`);
    const nonce = data.subarray(NONCE_OFFSET, NONCE_OFFSET + NONCE_BYTES);
    const sealed = data.subarray(NONCE_OFFSET + NONCE_BYTES, data.length - TAG_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    for (const key of this.ring) {
      const plain = tryDecrypt(key, nonce, sealed, tag, aad);
      if (plain !== null) return plain;
    }
    throw new CodecError('decrypt', `no installed key (of ${this.ring.length}) authenticates the payload`);
  }

  private indexOf(key: Buffer): number {
    return this.ring.findIndex((k) => k.equals(key));
  }
}

/** One attempt; null when the tag does not verify (wrong key or tampered data). */
function tryDecrypt(key: Buffer, nonce: Uint8Array, sealed: Uint8Array, tag: Uint8Array, aad: Uint8Array): Buffer | null {
  const decipher = createDecipheriv(cipherFor(key), key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const body = decipher.update(sealed);
  try {
    const rest = decipher.final();
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch {
    return null;
  }
}

/** A new random AES-256 key in base64, for `shoal keygen`. */
export function generateKey(): string {
  return randomBytes(32).toString('base64');
}
