/**
 * The envelope around every gossip UDP packet and stream frame:
 *
 *   version (1 byte = 1) | flags (1 byte, bit 0 = encrypted) | labelLen (1 byte) | label | payload
 *
 * Plain payload: CRC32 (IEEE, big-endian) of the body, then the body; the checksum catches
 * corruption that UDP's optional 16-bit checksum misses, not attackers. Encrypted payload:
 * `Keyring.encrypt(body, aad = header)`, so the label is authenticated and a packet cannot be moved
 * to another cluster by rewriting it.
 *
 * Turning encryption on in a live cluster (memberlist's GossipVerifyIncoming/Outgoing): install the
 * keyring with both toggles off (we decrypt what arrives encrypted, send plain), then turn outgoing
 * on everywhere, then incoming on everywhere (plain input is refused from then on).
 *
 * Replays: accepted encrypted packets' nonces are remembered in a fixed-size window and a repeat is
 * dropped. Plain packets cannot be protected, and need not be for safety: membership messages are
 * applied only when their incarnation is newer than what we hold, so a replayed alive/suspect/dead
 * is ignored once anything newer has been seen, acks only match an outstanding probe's seqNo, and
 * queries are deduplicated by (originNode, id, ltime). Anyone who can replay plain packets can also
 * forge them; encryption is the answer to both.
 */

import type { Clock } from '../core/clock';
import { CodecError } from './codec';
import { ENCRYPTION_OVERHEAD_BYTES, type Keyring, NONCE_BYTES, NONCE_OFFSET } from './keyring';

/** The envelope version we speak; anything else is dropped as 'version'. */
export const PACKET_VERSION = 1;
/** Flags bit 0: the payload is AES-GCM sealed. The other bits are reserved and must be zero. */
const FLAG_ENCRYPTED = 0x01;
/** version, flags, labelLen. */
const FIXED_HEADER_BYTES = 3;
/** The label length is one byte. */
export const MAX_LABEL_BYTES = 255;
const CRC_BYTES = 4;
/** 65536 nonces: about a minute of a busy member's input, ~5 MB with the Set's overhead. */
const DEFAULT_REPLAY_WINDOW_ENTRIES = 65_536;

/** How a `PacketSealer` is set up; the toggles mirror `gossipVerifyIncoming/Outgoing`. */
export interface PacketSealerOptions {
  /** The cluster label carried in every packet; at most 255 bytes of UTF-8 (may be empty). */
  label: string;
  /** The keys to encrypt and decrypt with, or null for plain gossip. */
  keyring: Keyring | null;
  /** Refuse plain input when a keyring is present. */
  verifyIncoming: boolean;
  /** Encrypt output when a keyring is present. */
  verifyOutgoing: boolean;
  /** Timestamps accepted nonces, to report how far back replay protection reaches. */
  clock: Clock;
  /** Nonces of accepted encrypted packets remembered for replay detection (default 65536). */
  replayWindowEntries?: number;
}

/** Seals outgoing bodies into packets and opens incoming packets back into bodies. */
export class PacketSealer {
  private readonly labelBytes: Buffer;
  /** Headers are constant per label; built once and copied into each packet. */
  private readonly plainHeader: Buffer;
  private readonly encryptedHeader: Buffer;
  private ring: Keyring | null;
  private verifyIn: boolean;
  private verifyOut: boolean;
  private readonly clock: Clock;
  private readonly replay: ReplayWindow;

  constructor(opts: PacketSealerOptions) {
    this.labelBytes = Buffer.from(opts.label, 'utf8');
    if (this.labelBytes.length > MAX_LABEL_BYTES) {
      throw new RangeError(`gossip label: expected at most ${MAX_LABEL_BYTES} bytes of UTF-8, got ${this.labelBytes.length}`);
    }
    this.plainHeader = this.header(0);
    this.encryptedHeader = this.header(FLAG_ENCRYPTED);
    this.ring = opts.keyring;
    this.verifyIn = opts.verifyIncoming;
    this.verifyOut = opts.verifyOutgoing;
    this.clock = opts.clock;
    this.replay = new ReplayWindow(opts.replayWindowEntries ?? DEFAULT_REPLAY_WINDOW_ENTRIES);
  }

  /** The cluster label. */
  get label(): string {
    return this.labelBytes.toString('utf8');
  }

  /** The keyring, or null. */
  get keyring(): Keyring | null {
    return this.ring;
  }

  /** Whether plain input is refused while a keyring is present. */
  get verifyIncoming(): boolean {
    return this.verifyIn;
  }

  /** Whether output is encrypted while a keyring is present. */
  get verifyOutgoing(): boolean {
    return this.verifyOut;
  }

  /** Whether `seal` encrypts right now. */
  get encrypting(): boolean {
    return this.ring !== null && this.verifyOut;
  }

  /** Installs or removes (null) the keyring; the replay window is kept. */
  setKeyring(keyring: Keyring | null): void {
    this.ring = keyring;
  }

  /** Changes the verification toggles (the steps of enabling encryption live). */
  setVerify(incoming: boolean, outgoing: boolean): void {
    this.verifyIn = incoming;
    this.verifyOut = outgoing;
  }

  /** Bytes `seal` adds to a body right now: the UDP budget for bodies is the packet size minus this. */
  overheadBytes(): number {
    return this.plainHeader.length + (this.encrypting ? ENCRYPTION_OVERHEAD_BYTES : CRC_BYTES);
  }

  /** Wraps a body (a message or compound) into a packet. */
  seal(body: Uint8Array): Buffer {
    if (this.encrypting) {
      // One extra copy of the ciphertext; the keyring API stays simple and packets are small.
      return Buffer.concat([this.encryptedHeader, this.ring!.encrypt(body, this.encryptedHeader)]);
    }
    const h = this.plainHeader;
    const out = Buffer.allocUnsafe(h.length + CRC_BYTES + body.length);
    h.copy(out, 0);
    out.writeUInt32BE(crc32(body), h.length);
    out.set(body, h.length + CRC_BYTES);
    return out;
  }

  /** Returns the body of a packet (a view into `data`), or throws a CodecError naming the reason. */
  open(data: Uint8Array): Buffer {
    const payloadAt = this.checkHeader(data);
    return (data[1]! & FLAG_ENCRYPTED) !== 0 ? this.openEncrypted(data, payloadAt) : this.openPlain(data, payloadAt);
  }

  /** How far back, in ms, the replay window reaches now (0 when empty); a gauge for operators. */
  replayWindowSpanMs(): number {
    return this.replay.spanMs(this.clock.now());
  }

  private header(flags: number): Buffer {
    const h = Buffer.allocUnsafe(FIXED_HEADER_BYTES + this.labelBytes.length);
    h[0] = PACKET_VERSION;
    h[1] = flags;
    h[2] = this.labelBytes.length;
    this.labelBytes.copy(h, FIXED_HEADER_BYTES);
    return h;
  }

  /** Validates version, flags and label; returns where the payload starts. */
  private checkHeader(data: Uint8Array): number {
    if (data.length === 0) throw new CodecError('truncated', 'empty packet');
    if (data[0] !== PACKET_VERSION) throw new CodecError('version', `packet version ${data[0]} (we speak ${PACKET_VERSION})`);
    if (data.length < FIXED_HEADER_BYTES) throw new CodecError('truncated', 'packet shorter than its header');
    if ((data[1]! & ~FLAG_ENCRYPTED) !== 0) throw new CodecError('version', `unknown packet flags 0x${data[1]!.toString(16)}`);
    const payloadAt = FIXED_HEADER_BYTES + data[2]!;
    if (data.length < payloadAt) throw new CodecError('truncated', 'packet shorter than its label');
    if (!this.labelBytes.equals(data.subarray(FIXED_HEADER_BYTES, payloadAt))) {
      // Not echoed: another cluster's label is its business, and it may be binary.
      throw new CodecError('label', 'packet carries another cluster label');
    }
    return payloadAt;
  }

  private openEncrypted(data: Uint8Array, payloadAt: number): Buffer {
    const ring = this.ring;
    if (ring === null) throw new CodecError('encrypted', 'encrypted packet but no gossip keyring is installed');
    // Decrypt before the replay check: only authenticated nonces may enter the window, or a forger
    // could fill it with junk and push real entries out.
    const body = ring.decrypt(data.subarray(payloadAt), data.subarray(0, payloadAt));
    const nonceAt = data.byteOffset + payloadAt + NONCE_OFFSET;
    const nonce = Buffer.from(data.buffer, nonceAt, NONCE_BYTES).toString('latin1');
    if (!this.replay.add(nonce, this.clock.now())) throw new CodecError('replay', 'encrypted packet already accepted');
    return body;
  }

  private openPlain(data: Uint8Array, payloadAt: number): Buffer {
    if (this.ring !== null && this.verifyIn) {
      throw new CodecError('unencrypted', 'plain packet while gossip encryption is required');
    }
    const bodyAt = payloadAt + CRC_BYTES;
    if (data.length < bodyAt) throw new CodecError('truncated', 'packet shorter than its checksum');
    const body = Buffer.from(data.buffer, data.byteOffset + bodyAt, data.length - bodyAt);
    const view = Buffer.from(data.buffer, data.byteOffset + payloadAt, CRC_BYTES);
    if (view.readUInt32BE(0) !== crc32(body)) throw new CodecError('crc', 'packet checksum mismatch');
    return body;
  }
}

/**
 * The last `capacity` accepted nonces: a ring (oldest overwritten first) for eviction plus a Set
 * for O(1) lookup. Memory is fixed by `capacity`, whatever the traffic.
 */
class ReplayWindow {
  private nonces: (string | undefined)[];
  private acceptedAt: Float64Array;
  private readonly seen = new Set<string>();
  private next = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`replayWindowEntries: expected a positive integer, got ${capacity}`);
    }
    // Allocated on the first encrypted packet: a pool without encryption (and each of thousands of
    // simulated members) should not pay about 1 MiB for a window it never uses.
    this.nonces = [];
    this.acceptedAt = new Float64Array(0);
  }

  /** Remembers `nonce`; false when it is already remembered (a replay). */
  add(nonce: string, nowMs: number): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.acceptedAt.length === 0) {
      this.nonces = new Array<string | undefined>(this.capacity).fill(undefined);
      this.acceptedAt = new Float64Array(this.capacity);
    }
    const evicted = this.nonces[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.nonces[this.next] = nonce;
    this.acceptedAt[this.next] = nowMs;
    this.seen.add(nonce);
    this.next = (this.next + 1) % this.capacity;
    return true;
  }

  /** Time since the oldest remembered nonce was accepted. */
  spanMs(nowMs: number): number {
    if (this.seen.size === 0) return 0;
    // When the ring has wrapped, the oldest entry is the next to be overwritten; before, slot 0.
    const oldest = this.nonces[this.next] !== undefined ? this.next : 0;
    return nowMs - this.acceptedAt[oldest]!;
  }
}

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) lookup table, one entry per byte value. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE) of `data`, as zlib and Go's hash/crc32.ChecksumIEEE compute it. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
