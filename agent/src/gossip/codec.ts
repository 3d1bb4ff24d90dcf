/**
 * The gossip wire format: the only module that knows how messages look as bytes.
 *
 * A message is one type byte (`MessageType`) followed by a msgpack array holding the fields in a
 * fixed order (see `SCHEMAS`). Positional arrays instead of maps keep a ping near 40 bytes, which
 * matters because every member sends several per second and piggybacks broadcasts into the rest of
 * a 1400-byte UDP budget. Field order is wire format: append new fields, never reorder.
 *
 * Several messages share one UDP packet as a compound (memberlist's makeCompoundMessage):
 * `12 | count u8 | count x length u16 BE | parts`. Compounds never nest.
 *
 * Everything decoded here came from a peer: every field is validated, every failure is a
 * `CodecError` with a `DropReason`, and no buffer or array is sized from a length the input does
 * not actually contain.
 */

import { DecodeError, Decoder, Encoder } from '@msgpack/msgpack';
import {
  type MemberState,
  type Message,
  MessageType,
  type PushNodeState,
  type Tags,
} from './messages';
import type { DropReason } from './metrics';

/** A peer's bytes that we refuse, with the reason used as the drop metric's label. */
export class CodecError extends Error {
  constructor(
    readonly reason: DropReason,
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Bytes a compound adds once: the type byte and the part count. */
export const COMPOUND_HEADER_BYTES = 2;
/** Bytes a compound adds per part: its uint16 length. */
export const COMPOUND_PART_OVERHEAD = 2;
/** A compound's part count is one byte. */
const MAX_COMPOUND_PARTS = 255;
/** A compound part's length is a uint16. */
const MAX_COMPOUND_PART_BYTES = 0xffff;

/** Names (nodes, queries): 1..128 UTF-16 code units, enough for FQDNs used as node names. */
const MAX_NAME_CHARS = 128;
/** `host:port` with the longest IPv6 literal in brackets (47 chars) still fits. */
const MAX_ADDR_CHARS = 64;
/** Tag keys are short identifiers; the whole set is bounded by the caller's `maxTagsBytes`. */
const MAX_TAG_KEY_CHARS = 64;
/** Push-pull carries the whole member list; far above any real cluster, far below memory trouble. */
export const MAX_PUSH_PULL_NODES = 100_000;
/** Protocol versions fit in a byte. */
const MAX_PROTOCOL = 255;

type MessageTypeName = Message['type'];

// ---------------------------------------------------------------------------------------------
// Field checks. Each takes a decoded value and returns the value to store. Wrong JS type ->
// 'malformed'; right type, bad value -> 'invalid'. Errors say "expected ..." and gain their field
// path ("pushPull.nodes[3].addr: expected ...") while unwinding, so the common, valid case builds
// no path strings. Messages never echo the peer's value: it may be large, binary or hostile to logs.
// ---------------------------------------------------------------------------------------------

type Check = (v: unknown) => unknown;

function malformed(expected: string): CodecError {
  return new CodecError('malformed', `expected ${expected}`);
}

function invalid(expected: string): CodecError {
  return new CodecError('invalid', `expected ${expected}`);
}

/** Prefixes a field error with `segment` (a key, an `[index]` or the message type) and rethrows. */
function within(err: unknown, segment: string): never {
  if (err instanceof CodecError) {
    const m = err.message;
    err.message = segment + (m.startsWith('expected') ? ': ' : m.startsWith('[') ? '' : '.') + m;
  }
  throw err;
}

/** Sequence numbers, incarnations, ids, wall-clock ms: non-negative and exactly representable. */
const uint: Check = (v) => {
  if (typeof v !== 'number') throw malformed('an integer');
  if (!Number.isSafeInteger(v) || v < 0) throw invalid('an integer in [0, 2^53)');
  return v;
};

const protocol: Check = (v) => {
  if (typeof v !== 'number') throw malformed('an integer');
  if (!Number.isInteger(v) || v < 0 || v > MAX_PROTOCOL) throw invalid(`an integer in [0, ${MAX_PROTOCOL}]`);
  return v;
};

const bool: Check = (v) => {
  if (typeof v !== 'boolean') throw malformed('a boolean');
  return v;
};

/** C0 controls and DEL: never in a name, since names end up in logs, metrics and DNS answers. */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** An unpaired surrogate (msgpack's decoder produces one from CESU-style bytes such as ED A0 80). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function str(v: unknown): string {
  if (typeof v !== 'string') throw malformed('a string');
  if (LONE_SURROGATE.test(v)) throw invalid('well-formed UTF-8');
  return v;
}

/** A short printable identifier of 1..`max` characters (node names, query names, tag keys). */
function identifier(v: unknown, max: number, what: string): string {
  const s = str(v);
  if (s.length < 1 || s.length > max || hasControlChar(s)) {
    throw invalid(`${what} of 1-${max} characters without control characters`);
  }
  return s;
}

const name: Check = (v) => identifier(v, MAX_NAME_CHARS, 'a name');

/** `host:port` or `[v6]:port`, port 1..65535 (port 0 is not reachable). */
const ADDR = /^(?:\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$/;

const addr: Check = (v) => {
  const s = str(v);
  const m = s.length <= MAX_ADDR_CHARS ? ADDR.exec(s) : null;
  const port = m ? Number(m[1]) : 0;
  if (port < 1 || port > 65535) throw invalid(`host:port of at most ${MAX_ADDR_CHARS} characters`);
  return s;
};

/** Copied, so a decoded message neither aliases nor pins the (possibly reused) receive buffer. */
const bytes: Check = (v) => {
  if (!(v instanceof Uint8Array)) throw malformed('binary data');
  return new Uint8Array(v);
};

/** A map of string to string. The encoded size is the caller's check (`maxTagsBytes`). */
const tags: Check = (v) => {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) {
    throw malformed('a map of strings to strings');
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    identifier(k, MAX_TAG_KEY_CHARS, 'tag keys');
    if (typeof val !== 'string') throw malformed('a map of strings to strings');
    out[k] = str(val);
  }
  return out satisfies Tags;
};

/** Member states travel as small integers; the index is wire format. */
const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

const state: Check = (v) => {
  if (typeof v !== 'number') throw malformed('a state code');
  const s = STATES[v];
  if (!Number.isInteger(v) || s === undefined) throw invalid('a state code in [0, 3]');
  return s;
};

// ---------------------------------------------------------------------------------------------
// Schemas: one ordered field list per message type. Encoding maps a message to a tuple in this
// order; decoding checks each tuple slot and rebuilds the object. Optional fields come last and
// are omitted from the tuple when absent.
// ---------------------------------------------------------------------------------------------

interface Field<M> {
  key: Exclude<keyof M, 'type'> & string;
  check: Check;
  /** Converts the in-memory value to its wire form, when they differ. */
  toWire?: (v: never) => unknown;
  optional?: true;
}

type Schema<M> = readonly Field<M>[];

const NODE_SCHEMA: Schema<PushNodeState> = [
  { key: 'name', check: name },
  { key: 'addr', check: addr },
  { key: 'incarnation', check: uint },
  { key: 'state', check: state, toWire: (s: MemberState) => STATES.indexOf(s) },
  { key: 'tags', check: tags },
  { key: 'protocol', check: protocol },
];

const nodes: Check = (v) => {
  if (!Array.isArray(v)) throw malformed('an array of members');
  if (v.length > MAX_PUSH_PULL_NODES) throw invalid(`at most ${MAX_PUSH_PULL_NODES} members`);
  const out = new Array<PushNodeState>(v.length);
  for (let i = 0; i < v.length; i++) {
    try {
      out[i] = fromTuple(NODE_SCHEMA, v[i]);
    } catch (err) {
      within(err, `[${i}]`);
    }
  }
  return out;
};

type SchemaOf<T extends MessageTypeName> = Schema<Extract<Message, { type: T }>>;

const SCHEMAS: { readonly [T in MessageTypeName]: SchemaOf<T> } = {
  ping: [
    { key: 'seqNo', check: uint },
    { key: 'target', check: name },
    { key: 'sourceNode', check: name },
    { key: 'sourceAddr', check: addr },
  ],
  indirectPing: [
    { key: 'seqNo', check: uint },
    { key: 'target', check: name },
    { key: 'targetAddr', check: addr },
    { key: 'nack', check: bool },
    { key: 'sourceNode', check: name },
    { key: 'sourceAddr', check: addr },
  ],
  ack: [
    { key: 'seqNo', check: uint },
    { key: 'payload', check: bytes, optional: true },
  ],
  nack: [{ key: 'seqNo', check: uint }],
  suspect: [
    { key: 'incarnation', check: uint },
    { key: 'node', check: name },
    { key: 'from', check: name },
  ],
  alive: [
    { key: 'incarnation', check: uint },
    { key: 'node', check: name },
    { key: 'addr', check: addr },
    { key: 'tags', check: tags },
    { key: 'protocol', check: protocol },
  ],
  dead: [
    { key: 'incarnation', check: uint },
    { key: 'node', check: name },
    { key: 'from', check: name },
  ],
  pushPull: [
    { key: 'join', check: bool },
    {
      key: 'nodes',
      check: nodes,
      toWire: (ns: PushNodeState[]) => ns.map((n) => toTuple(NODE_SCHEMA, n)),
    },
    { key: 'userState', check: bytes, optional: true },
  ],
  user: [{ key: 'payload', check: bytes }],
  query: [
    { key: 'id', check: uint },
    { key: 'ltime', check: uint },
    { key: 'originNode', check: name },
    { key: 'originAddr', check: addr },
    { key: 'name', check: name },
    { key: 'payload', check: bytes },
    { key: 'timeoutMs', check: uint },
  ],
  queryResponse: [
    { key: 'id', check: uint },
    { key: 'ltime', check: uint },
    { key: 'fromNode', check: name },
    { key: 'payload', check: bytes },
  ],
};

/** Type code -> name, for decoding; `compound` is handled by `splitBody`, never here. */
const TYPE_BY_CODE: ReadonlyMap<number, MessageTypeName> = new Map(
  (Object.keys(SCHEMAS) as MessageTypeName[]).map((t) => [MessageType[t], t]),
);

/** The wire tuple of `msg`: fields in schema order, absent trailing optionals left out. */
function toTuple<M>(schema: Schema<M>, msg: M): unknown[] {
  const out: unknown[] = [];
  for (const f of schema) {
    const v = msg[f.key];
    if (v === undefined && f.optional) break; // optional fields are trailing
    out.push(f.toWire ? f.toWire(v as never) : v);
  }
  return out;
}

/** Checks `tuple` against `schema` and stores the fields into `out`. */
function fromTuple<M>(schema: Schema<M>, tuple: unknown, out: Record<string, unknown> = {}): M {
  if (!Array.isArray(tuple)) throw malformed('an array');
  let required = 0; // counted, not filtered: this runs per push-pull node, up to 100000 times
  for (const f of schema) if (!f.optional) required++;
  if (tuple.length < required || tuple.length > schema.length) {
    throw malformed(`${required === schema.length ? required : `${required}-${schema.length}`} fields`);
  }
  for (let i = 0; i < tuple.length; i++) {
    const f = schema[i]!;
    try {
      out[f.key] = f.check(tuple[i]);
    } catch (err) {
      within(err, f.key);
    }
  }
  return out as M;
}

/** The schemas seen without their per-type key checking, for the code that walks any of them. */
type LooseMessage = Record<string, unknown>;

function schemaOf(type: MessageTypeName): Schema<LooseMessage> {
  return SCHEMAS[type] as unknown as Schema<LooseMessage>;
}

// ---------------------------------------------------------------------------------------------
// msgpack with bounded allocation.
// ---------------------------------------------------------------------------------------------

/** Reused across messages; `encodeSharedRef` then costs one copy into the output Buffer. */
const encoder = new Encoder();

/** Tag maps are the only msgpack maps we send; a non-string key is a malformed message. */
function stringKey(key: unknown): string {
  if (typeof key !== 'string') throw new CodecError('malformed', 'map keys must be strings');
  return key;
}

/**
 * The msgpack decoder sizes arrays from their header (`new Array(size)`) before reading elements.
 * Every element takes at least one byte, so a length above the input size is a lie; decoders are
 * kept per power-of-two input size and limit every length to that size, which bounds allocation to
 * twice the input whatever the header claims. At most ~30 decoders ever exist.
 */
const decoders = new Map<number, Decoder>();

function decoderFor(inputBytes: number): Decoder {
  const bits = Math.min(32, Math.max(4, 32 - Math.clz32(inputBytes)));
  let d = decoders.get(bits);
  if (d === undefined) {
    const limit = bits === 32 ? 0xffffffff : 2 ** bits;
    d = new Decoder({
      maxStrLength: limit,
      maxBinLength: limit,
      maxArrayLength: limit,
      maxMapLength: limit,
      maxExtLength: limit,
      mapKeyConverter: stringKey,
    });
    decoders.set(bits, d);
  }
  return d;
}

/**
 * msgpack's errors, classified. Reading past the end surfaces as a RangeError from DataView (or
 * "Insufficient data"); a length above our limit is longer than the input, so also a truncation.
 * "Extra N bytes" after the value is junk, not truncation. Anything unrecognised is malformed.
 */
function classify(err: unknown): CodecError {
  if (err instanceof CodecError) return err;
  const msg = err instanceof Error ? err.message : '';
  const tooShort = err instanceof RangeError ? !/^Extra /.test(msg) : /^Max length exceeded/.test(msg);
  if (tooShort) return new CodecError('truncated', 'message body is shorter than its msgpack lengths say');
  if (err instanceof DecodeError || err instanceof RangeError) {
    return new CodecError('malformed', `message body is not valid msgpack (${msg.slice(0, 80)})`);
  }
  return new CodecError('malformed', 'message body did not decode');
}

function decodeBody(body: Uint8Array): unknown {
  if (body.length === 0) throw new CodecError('truncated', 'message has no body');
  try {
    return decoderFor(body.length).decode(body);
  } catch (err) {
    throw classify(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------------------------

/**
 * Encodes one message: type byte, then its msgpack tuple. Trusts its caller (our own protocol
 * code); `decodeMessage` on the receiving side is the gatekeeper.
 */
export function encodeMessage(msg: Message): Buffer {
  const tuple = toTuple(schemaOf(msg.type), msg as unknown as LooseMessage);
  const body = encoder.encodeSharedRef(tuple);
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = MessageType[msg.type];
  out.set(body, 1);
  return out;
}

/**
 * Decodes and validates one message (not a compound: split those first). Throws only
 * `CodecError`: 'truncated', 'malformed', 'unexpected' (unknown type, compound) or 'invalid'.
 */
export function decodeMessage(buf: Uint8Array): Message {
  try {
    if (buf.length === 0) throw new CodecError('truncated', 'empty message');
    const code = buf[0]!;
    if (code === MessageType.compound) throw new CodecError('unexpected', 'compound where a single message was expected');
    const type = TYPE_BY_CODE.get(code);
    if (type === undefined) throw new CodecError('unexpected', `unknown message type ${code}`);
    const tuple = decodeBody(buf.subarray(1));
    try {
      return fromTuple(schemaOf(type), tuple, { type }) as unknown as Message;
    } catch (err) {
      within(err, type);
    }
  } catch (err) {
    // The contract is "only CodecError": anything else (a library surprise) is still a bad packet.
    throw classify(err);
  }
}

/** Packs already-encoded messages into one compound. Throws on our own misuse (count, size, nesting). */
export function encodeCompound(parts: Uint8Array[]): Buffer {
  if (parts.length < 1 || parts.length > MAX_COMPOUND_PARTS) {
    throw new RangeError(`a compound holds 1-${MAX_COMPOUND_PARTS} parts, got ${parts.length}`);
  }
  let total = COMPOUND_HEADER_BYTES;
  for (const p of parts) {
    if (p.length < 1 || p.length > MAX_COMPOUND_PART_BYTES) {
      throw new RangeError(`a compound part is 1-${MAX_COMPOUND_PART_BYTES} bytes, got ${p.length}`);
    }
    if (p[0] === MessageType.compound) throw new RangeError('compounds do not nest');
    total += COMPOUND_PART_OVERHEAD + p.length;
  }
  const out = Buffer.allocUnsafe(total);
  out[0] = MessageType.compound;
  out[1] = parts.length;
  let lenAt = COMPOUND_HEADER_BYTES;
  let partAt = COMPOUND_HEADER_BYTES + COMPOUND_PART_OVERHEAD * parts.length;
  for (const p of parts) {
    out.writeUInt16BE(p.length, lenAt);
    lenAt += COMPOUND_PART_OVERHEAD;
    out.set(p, partAt);
    partAt += p.length;
  }
  return out;
}

/**
 * Splits a packet body into messages, keeping every complete part of a truncated compound (as
 * memberlist does: a packet cut short by a middlebox still delivers what arrived). Parts are views
 * into `buf`. Throws 'unexpected' on a nested compound and 'malformed' on an empty compound or
 * trailing bytes, which no conforming sender produces.
 */
export function splitBodyLenient(buf: Uint8Array): { parts: Uint8Array[]; truncated: boolean } {
  if (buf.length === 0) return { parts: [], truncated: true };
  if (buf[0] !== MessageType.compound) return { parts: [buf], truncated: false };
  if (buf.length < COMPOUND_HEADER_BYTES) return { parts: [], truncated: true };
  const count = buf[1]!;
  if (count === 0) throw new CodecError('malformed', 'compound with no parts');
  let partAt = COMPOUND_HEADER_BYTES + COMPOUND_PART_OVERHEAD * count;
  // Without the whole length table no part boundary is known (memberlist: "truncated len slice").
  if (buf.length < partAt) return { parts: [], truncated: true };
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const at = COMPOUND_HEADER_BYTES + COMPOUND_PART_OVERHEAD * i;
    const len = (buf[at]! << 8) | buf[at + 1]!;
    if (partAt + len > buf.length) return { parts, truncated: true };
    const part = buf.subarray(partAt, partAt + len);
    if (part[0] === MessageType.compound) throw new CodecError('unexpected', 'nested compound');
    parts.push(part);
    partAt += len;
  }
  if (partAt !== buf.length) throw new CodecError('malformed', `${buf.length - partAt} bytes after the last compound part`);
  return { parts, truncated: false };
}

/** Like `splitBodyLenient`, but a truncated compound is refused whole ('truncated'). */
export function splitBody(buf: Uint8Array): Uint8Array[] {
  const { parts, truncated } = splitBodyLenient(buf);
  if (truncated) throw new CodecError('truncated', 'compound shorter than its length table says');
  return parts;
}

/** The message type of an encoded message or compound, for metric labels; 'unknown' otherwise. */
export function messageTypeName(buf: Uint8Array): string {
  const code = buf[0];
  if (code === undefined) return 'unknown';
  if (code === MessageType.compound) return 'compound';
  return TYPE_BY_CODE.get(code) ?? 'unknown';
}
