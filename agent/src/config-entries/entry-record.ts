/**
 * A stored config entry version (or a deletion) and its gossip wire format on channel 2 of the
 * gossip mux. Like the catalog's codec: positional msgpack arrays, field order is wire format,
 * trailing fields are ignored, and everything decoded is validated (entries through the same kind
 * validation as an API write) before the store sees it.
 */
import { encode } from '@msgpack/msgpack';
import { CatalogCodecError, decodeBounded, packArray } from '../catalog/catalog-codec';
import type { Hlc, Stamp } from './hlc';
import { CONFIG_ENTRY_KINDS, type ConfigEntry, type ConfigEntryKind } from './types';
import { checkConfigEntry } from './validate';

/** One entry's latest write as this agent holds it. `entry` undefined = deleted (a tombstone). */
export interface ConfigRecord extends Stamp {
  kind: ConfigEntryKind;
  name: string;
  entry: ConfigEntry | undefined;
  /** Local indexes (Consul's CreateIndex and ModifyIndex; this agent's own sequence). */
  createIndex: number;
  modifyIndex: number;
}

/** A record as it travels: no local indexes. */
export type WireRecord = Omit<ConfigRecord, 'createIndex' | 'modifyIndex'>;

/** One key's version in a digest. */
export interface DigestItem extends Stamp {
  kind: ConfigEntryKind;
  name: string;
}

/** The store key of an entry. */
export function recordKey(kind: string, name: string): string {
  return `${kind}/${name}`;
}

/** Message type codes on channel 2. Part of the wire format: never renumber. */
export const EntryMessageType = {
  /** Broadcast: one record. */
  full: 1,
  /** Broadcast: a record's stamp, for records too large for a datagram; receivers fetch. */
  digest: 2,
  /** Push-pull: the stamp of every key we hold, tombstones included. */
  state: 3,
  /** Request: records by key. */
  get: 4,
  /** Answer: records. */
  records: 5,
  /** Request: records the receiver lacks (anti-entropy push). */
  push: 6,
} as const;

/** A decoded channel-2 message. */
export type EntryMessage =
  | { type: 'full'; record: WireRecord }
  | { type: 'digest'; item: DigestItem; origin: string; via: string }
  | { type: 'state'; from: string; digest: DigestItem[]; invalid: CatalogCodecError[] }
  | { type: 'get'; keys: Array<{ kind: ConfigEntryKind; name: string }> }
  | { type: 'records' | 'push'; records: WireRecord[]; invalid: CatalogCodecError[] };

/** Keys in one request, records in one answer or push, digest items in one state. */
export const ENTRY_LIMITS = { maxKeysPerRequest: 1024, maxRecordsPerMessage: 100_000, maxDigestItems: 100_000 } as const;

// ---- encoding ----

/** Encodes a record as the positional array messages embed. */
export function encodeRecord(r: WireRecord): Uint8Array {
  return encode([r.kind, r.name, r.entry ?? null, r.hlc.wallMs, r.hlc.counter, r.node]);
}

export function encodeFullRecord(wire: Uint8Array): Uint8Array {
  return packArray([encode(EntryMessageType.full), wire]);
}

export function encodeEntryDigest(d: DigestItem, origin: string, via: string): Uint8Array {
  return encode([EntryMessageType.digest, d.kind, d.name, d.hlc.wallMs, d.hlc.counter, d.node, origin, via]);
}

export function encodeEntryState(from: string, digest: readonly DigestItem[]): Uint8Array {
  return encode([EntryMessageType.state, from, digest.map((d) => [d.kind, d.name, d.hlc.wallMs, d.hlc.counter, d.node])]);
}

export function encodeGetEntries(keys: ReadonlyArray<{ kind: string; name: string }>): Uint8Array {
  return encode([EntryMessageType.get, keys.map((k) => [k.kind, k.name])]);
}

/** An answer (`records`) or a push, around encoded records. */
export function encodeRecords(type: 'records' | 'push', wires: readonly Uint8Array[]): Uint8Array {
  return packArray([encode(EntryMessageType[type]), packArray(wires)]);
}

// ---- decoding ----

function shape(path: string, expected: string): CatalogCodecError {
  return new CatalogCodecError('shape', `${path}: expected ${expected}`);
}

function tuple(v: unknown, min: number, path: string): unknown[] {
  if (!Array.isArray(v) || v.length < min) throw shape(path, `an array of at least ${min} fields`);
  return v;
}

function list(v: unknown, max: number, path: string): unknown[] {
  if (!Array.isArray(v)) throw shape(path, 'an array');
  if (v.length > max) throw new CatalogCodecError('size', `${path}: at most ${max} items`);
  return v;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(v: unknown, max: number, path: string): string {
  if (typeof v !== 'string' || v.length < 1 || v.length > max || CONTROL.test(v)) throw shape(path, `a string of 1-${max} characters`);
  return v;
}

function kindOf(v: unknown, path: string): ConfigEntryKind {
  if (typeof v !== 'string' || !(CONFIG_ENTRY_KINDS as readonly string[]).includes(v)) throw shape(path, 'a config entry kind');
  return v as ConfigEntryKind;
}

function nat(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw shape(path, 'a non-negative integer');
  return v;
}

function addr(v: unknown, path: string): string {
  const s = text(v, 64, path);
  if (!/:\d{1,5}$/.test(s)) throw shape(path, 'host:port');
  return s;
}

function stamp(wall: unknown, counter: unknown, node: unknown, path: string): Stamp {
  const hlc: Hlc = { wallMs: nat(wall, `${path}.wallMs`), counter: nat(counter, `${path}.counter`) };
  return { hlc, node: text(node, 128, `${path}.node`) };
}

/** Validates one record; its entry goes through the kind's validation like an API write. */
export function decodeRecord(v: unknown, path: string): WireRecord {
  const t = tuple(v, 6, path);
  const kind = kindOf(t[0], `${path}.kind`);
  const name = text(t[1], 256, `${path}.name`);
  let entry: ConfigEntry | undefined;
  if (t[2] !== null) {
    const r = checkConfigEntry(t[2], 'gossip');
    if (r.entry === undefined) {
      throw shape(`${path}.entry`, `a valid entry (${r.problems.map((p) => `${p.field}: ${p.message}`).join('; ')})`);
    }
    if (r.entry.Kind !== kind || r.entry.Name !== name) throw shape(`${path}.entry`, `the entry ${kind}/${name}`);
    entry = r.entry;
  }
  return { kind, name, entry, ...stamp(t[3], t[4], t[5], path) };
}

/** Decodes and validates one channel-2 message. */
export function decodeEntryMessage(bytes: Uint8Array): EntryMessage {
  const v = decodeBounded(bytes);
  const t = tuple(v, 1, 'message');
  switch (t[0]) {
    case EntryMessageType.full:
      return { type: 'full', record: decodeRecord(tuple(v, 2, 'full')[1], 'full.record') };
    case EntryMessageType.digest: {
      const d = tuple(v, 8, 'digest');
      return {
        type: 'digest',
        item: { kind: kindOf(d[1], 'digest.kind'), name: text(d[2], 256, 'digest.name'), ...stamp(d[3], d[4], d[5], 'digest') },
        origin: addr(d[6], 'digest.origin'),
        via: addr(d[7], 'digest.via'),
      };
    }
    case EntryMessageType.state: {
      const s = tuple(v, 3, 'state');
      const { ok: digest, invalid } = each(list(s[2], ENTRY_LIMITS.maxDigestItems, 'state.digest'), (x, i): DigestItem => {
        const p = `state.digest[${i}]`;
        const d = tuple(x, 5, p);
        return { kind: kindOf(d[0], `${p}.kind`), name: text(d[1], 256, `${p}.name`), ...stamp(d[2], d[3], d[4], p) };
      });
      return { type: 'state', from: addr(s[1], 'state.from'), digest, invalid };
    }
    case EntryMessageType.get: {
      const keys = list(tuple(v, 2, 'get')[1], ENTRY_LIMITS.maxKeysPerRequest, 'get.keys').map((x, i) => {
        const k = tuple(x, 2, `get.keys[${i}]`);
        return { kind: kindOf(k[0], `get.keys[${i}].kind`), name: text(k[1], 256, `get.keys[${i}].name`) };
      });
      return { type: 'get', keys };
    }
    case EntryMessageType.records:
    case EntryMessageType.push: {
      const type = t[0] === EntryMessageType.records ? 'records' : 'push';
      const items = list(tuple(v, 2, type)[1], ENTRY_LIMITS.maxRecordsPerMessage, `${type}.records`);
      const { ok: records, invalid } = each(items, (r, i) => decodeRecord(r, `${type}.records[${i}]`));
      return { type, records, invalid };
    }
    default:
      throw new CatalogCodecError('type', `unknown config entry message type ${typeof t[0] === 'number' ? t[0] : typeof t[0]}`);
  }
}

/**
 * Decodes list items one by one: a bad item (an entry a newer agent's kind rules allow, a kind we do
 * not know) is set aside and counted, the rest are used.
 */
function each<T>(items: unknown[], decode: (x: unknown, i: number) => T): { ok: T[]; invalid: CatalogCodecError[] } {
  const ok: T[] = [];
  const invalid: CatalogCodecError[] = [];
  items.forEach((x, i) => {
    try {
      ok.push(decode(x, i));
    } catch (err) {
      if (!(err instanceof CatalogCodecError)) throw err;
      invalid.push(err);
    }
  });
  return { ok, invalid };
}
