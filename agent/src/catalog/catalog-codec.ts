/**
 * The catalog's gossip wire format (channel 1 of the gossip mux): the only module that knows how a
 * node's catalog state and the catalog messages look as bytes.
 *
 * Every value is a msgpack array with fields in a fixed order (as in gossip/codec.ts): positional
 * arrays keep a one-service node under a datagram, which decides whether its state spreads whole or
 * as a digest. Field order is wire format: append new fields, never reorder; decoders accept and
 * ignore trailing fields so a newer agent can add some.
 *
 * Everything decoded here came from a peer: every field is checked for type, length and range, and
 * every failure is a `CatalogCodecError` naming the field path. Nothing is sized from a length the
 * input does not contain (the bounded decoder below).
 */
import { DecodeError, Decoder, encode } from '@msgpack/msgpack';
import type {
  CheckRecord, CheckType, HealthStatus, NodeCatalog, NodeVersion, ProxyConfig, ServiceKind, ServiceRecord, Upstream,
} from './types';

/** Why a peer's catalog bytes were refused; the label of the drop counter. */
export type CatalogDropReason = 'decode' | 'shape' | 'size' | 'type';

/** A peer's bytes that we refuse. */
export class CatalogCodecError extends Error {
  constructor(readonly reason: CatalogDropReason, message: string) {
    super(message);
    this.name = 'CatalogCodecError';
  }
}

/**
 * Bounds on what one node may spread. They follow Consul where it has a limit (meta: 64 pairs, keys
 * of 128 and values of 512 characters) and are otherwise far above real use and far below memory
 * trouble: 4096 services with 2 checks each encode to about 2 MiB.
 */
export const CATALOG_LIMITS = {
  /** Node names, service ids and names, check ids and names: 1-256 characters. */
  maxNameChars: 256,
  /** Addresses (IP, hostname) and free-text short fields. */
  maxShortChars: 256,
  maxServices: 4096,
  maxChecks: 8192,
  maxTagsPerService: 64,
  maxTagChars: 256,
  maxMetaPairs: 64,
  maxMetaKeyChars: 128,
  maxMetaValueChars: 512,
  maxUpstreams: 256,
  /** Check output and notes, as types.ts promises (4 KiB). */
  maxOutputChars: 4096,
  /** Nesting of opaque proxy/upstream `config` maps. */
  maxConfigDepth: 8,
  /** One node's encoded state (it also bounds a stream answer). */
  maxNodeStateBytes: 4 * 1024 * 1024,
  /** Digest entries in one push-pull state. */
  maxDigestEntries: 100_000,
} as const;

/** Message type codes on channel 1. Part of the wire format: never renumber. */
export const CatalogMessageType = {
  /** Broadcast: a node's whole state. */
  full: 1,
  /** Broadcast: a node's version, for states too large for a datagram; receivers fetch. */
  digest: 2,
  /** Push-pull: every node's version plus some whole states. */
  state: 3,
  /** Request: one node's state. */
  get: 4,
  /** Answer to `get`: the state, or nil. */
  answer: 5,
} as const;

/** One node's version as a digest carries it. */
export interface DigestEntry {
  node: string;
  version: NodeVersion;
}

/** A decoded channel-1 message. */
export type CatalogMessage =
  | { type: 'full'; catalog: NodeCatalog }
  | { type: 'digest'; entry: DigestEntry; origin: string; via: string }
  | { type: 'state'; from: string; digest: DigestEntry[]; full: NodeCatalog[] }
  | { type: 'get'; node: string }
  | { type: 'answer'; catalog: NodeCatalog | undefined };

// ---- encoding ----

/** Encodes one node's state as the positional array every message embeds. */
export function encodeNodeCatalog(c: NodeCatalog): Uint8Array {
  return encode([
    c.node, c.address, c.datacenter, c.meta, c.version.generation, c.version.seq,
    c.services.map(serviceTuple), c.checks.map(checkTuple),
  ]);
}

function serviceTuple(s: ServiceRecord): unknown[] {
  return [
    s.id, s.name, s.kind, s.address, s.port, s.tags, s.meta, s.weights.passing, s.weights.warning,
    s.enableTagOverride, s.namespace, s.proxy === undefined ? null : proxyTuple(s.proxy), s.source,
  ];
}

function proxyTuple(p: ProxyConfig): unknown[] {
  return [
    p.destinationServiceName, p.destinationServiceId, p.localServiceAddress, p.localServicePort,
    p.upstreams.map((u) => [u.destinationName, u.destinationNamespace, u.datacenter, u.localBindAddress, u.localBindPort, u.config]),
    p.config,
  ];
}

function checkTuple(c: CheckRecord): unknown[] {
  return [
    c.checkId, c.name, c.status, c.notes, c.output, c.serviceId, c.serviceName, c.serviceTags, c.type,
    c.interval, c.timeout,
  ];
}

/** A `full` broadcast around an encoded node state (from `encodeNodeCatalog`). */
export function encodeFull(wire: Uint8Array): Uint8Array {
  return packArray([encode(CatalogMessageType.full), wire]);
}

/** A `digest` broadcast: `origin` is the node's gossip address, `via` the relaying member's. */
export function encodeDigest(entry: DigestEntry, origin: string, via: string): Uint8Array {
  return encode([CatalogMessageType.digest, entry.node, entry.version.generation, entry.version.seq, origin, via]);
}

/** A push-pull state: our gossip address, every version we hold, and some encoded states. */
export function encodeState(from: string, digest: readonly DigestEntry[], wires: readonly Uint8Array[]): Uint8Array {
  const d = digest.map((e) => [e.node, e.version.generation, e.version.seq]);
  return packArray([encode(CatalogMessageType.state), encode(from), encode(d), packArray(wires)]);
}

/** A request for one node's state. */
export function encodeGet(node: string): Uint8Array {
  return encode([CatalogMessageType.get, node]);
}

/** The answer to `get`. */
export function encodeAnswer(wire: Uint8Array | undefined): Uint8Array {
  return packArray([encode(CatalogMessageType.answer), wire ?? encode(null)]);
}

/**
 * A msgpack array whose elements are already-encoded values, so a cached encoding (a node's state)
 * is embedded without decoding and re-encoding it.
 */
export function packArray(parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.length;
  const head = n < 16 ? Uint8Array.of(0x90 | n)
    : n < 0x10000 ? Uint8Array.of(0xdc, n >> 8, n & 0xff)
      : Uint8Array.of(0xdd, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  let size = head.length;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- bounded decoding ----

/**
 * msgpack's decoder sizes arrays from their header before reading elements. Every element takes at
 * least one byte, so no length above the input size is honest: decoders are kept per power-of-two
 * input size with every length limited to it, bounding allocation whatever a header claims.
 */
const decoders = new Map<number, Decoder>();

/** Decodes peer bytes with lengths bounded by the input size; throws CatalogCodecError('decode'). */
export function decodeBounded(bytes: Uint8Array): unknown {
  const bits = Math.min(32, Math.max(4, 32 - Math.clz32(bytes.length)));
  let d = decoders.get(bits);
  if (d === undefined) {
    const limit = bits === 32 ? 0xffffffff : 2 ** bits;
    d = new Decoder({
      maxStrLength: limit, maxBinLength: limit, maxArrayLength: limit, maxMapLength: limit, maxExtLength: limit,
      mapKeyConverter: (key: unknown) => {
        if (typeof key !== 'string') throw new DecodeError('map keys must be strings');
        return key;
      },
    });
    decoders.set(bits, d);
  }
  try {
    return d.decode(bytes);
  } catch (err) {
    throw new CatalogCodecError('decode', `not valid msgpack: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---- decoding ----

/** Decodes and validates one channel-1 message. */
export function decodeCatalogMessage(bytes: Uint8Array): CatalogMessage {
  if (bytes.length > CATALOG_LIMITS.maxNodeStateBytes * 4) throw new CatalogCodecError('size', `message of ${bytes.length} bytes is too large`);
  const v = decodeBounded(bytes);
  const t = tuple(v, 1, 'message');
  switch (t[0]) {
    case CatalogMessageType.full:
      return { type: 'full', catalog: nodeCatalog(at(t, 1, 'full'), 'full.catalog') };
    case CatalogMessageType.digest: {
      const d = tuple(v, 6, 'digest');
      return {
        type: 'digest',
        entry: { node: name(d[1], 'digest.node'), version: version(d[2], d[3], 'digest') },
        origin: addr(d[4], 'digest.origin'),
        via: addr(d[5], 'digest.via'),
      };
    }
    case CatalogMessageType.state: {
      const s = tuple(v, 4, 'state');
      const digest = list(s[2], CATALOG_LIMITS.maxDigestEntries, 'state.digest').map((e, i) => {
        const p = `state.digest[${i}]`;
        const x = tuple(e, 3, p);
        return { node: name(x[0], `${p}.node`), version: version(x[1], x[2], p) };
      });
      const full = list(s[3], CATALOG_LIMITS.maxDigestEntries, 'state.full').map((c, i) => nodeCatalog(c, `state.full[${i}]`));
      return { type: 'state', from: addr(s[1], 'state.from'), digest, full };
    }
    case CatalogMessageType.get:
      return { type: 'get', node: name(at(t, 1, 'get'), 'get.node') };
    case CatalogMessageType.answer: {
      const c = at(t, 1, 'answer');
      return { type: 'answer', catalog: c === null ? undefined : nodeCatalog(c, 'answer.catalog') };
    }
    default:
      throw new CatalogCodecError('type', `unknown catalog message type ${typeof t[0] === 'number' ? t[0] : typeof t[0]}`);
  }
}

/** Validates a decoded node state (the positional array) and builds the record. */
export function nodeCatalog(v: unknown, path: string): NodeCatalog {
  const t = tuple(v, 8, path);
  const services = list(t[6], CATALOG_LIMITS.maxServices, `${path}.services`).map((s, i) => service(s, `${path}.services[${i}]`));
  const checks = list(t[7], CATALOG_LIMITS.maxChecks, `${path}.checks`).map((c, i) => check(c, `${path}.checks[${i}]`));
  const ids = new Set<string>();
  for (const s of services) {
    if (ids.has(s.id)) throw shape(`${path}.services`, `unique service ids (${JSON.stringify(s.id)} repeats)`);
    ids.add(s.id);
  }
  return {
    node: name(t[0], `${path}.node`),
    address: short(t[1], `${path}.address`),
    datacenter: short(t[2], `${path}.datacenter`),
    meta: stringMap(t[3], `${path}.meta`),
    version: version(t[4], t[5], path),
    services,
    checks,
  };
}

function service(v: unknown, path: string): ServiceRecord {
  const t = tuple(v, 13, path);
  const tags = list(t[5], CATALOG_LIMITS.maxTagsPerService, `${path}.tags`).map((x, i) => str(x, 0, CATALOG_LIMITS.maxTagChars, `${path}.tags[${i}]`));
  const out: ServiceRecord = {
    id: name(t[0], `${path}.id`),
    name: name(t[1], `${path}.name`),
    kind: serviceKind(t[2], `${path}.kind`),
    address: short(t[3], `${path}.address`),
    port: int(t[4], 0, 65535, `${path}.port`),
    tags,
    meta: stringMap(t[6], `${path}.meta`),
    weights: { passing: int(t[7], 0, 65535, `${path}.weights.passing`), warning: int(t[8], 0, 65535, `${path}.weights.warning`) },
    enableTagOverride: bool(t[9], `${path}.enableTagOverride`),
    namespace: short(t[10], `${path}.namespace`),
    source: str(t[12], 0, 4096, `${path}.source`),
  };
  if (t[11] !== null) out.proxy = proxy(t[11], `${path}.proxy`);
  if (out.kind === 'connect-proxy' && out.proxy === undefined) throw shape(`${path}.proxy`, 'a proxy block on a connect-proxy service');
  return out;
}

function proxy(v: unknown, path: string): ProxyConfig {
  const t = tuple(v, 6, path);
  const upstreams = list(t[4], CATALOG_LIMITS.maxUpstreams, `${path}.upstreams`).map((u, i): Upstream => {
    const p = `${path}.upstreams[${i}]`;
    const x = tuple(u, 6, p);
    return {
      destinationName: name(x[0], `${p}.destinationName`),
      destinationNamespace: short(x[1], `${p}.destinationNamespace`),
      datacenter: short(x[2], `${p}.datacenter`),
      localBindAddress: short(x[3], `${p}.localBindAddress`),
      localBindPort: int(x[4], 0, 65535, `${p}.localBindPort`),
      config: opaqueMap(x[5], `${p}.config`),
    };
  });
  return {
    destinationServiceName: name(t[0], `${path}.destinationServiceName`),
    destinationServiceId: str(t[1], 0, CATALOG_LIMITS.maxNameChars, `${path}.destinationServiceId`),
    localServiceAddress: short(t[2], `${path}.localServiceAddress`),
    localServicePort: int(t[3], 0, 65535, `${path}.localServicePort`),
    upstreams,
    config: opaqueMap(t[5], `${path}.config`),
  };
}

const STATUSES = ['passing', 'warning', 'critical'] as const satisfies readonly HealthStatus[];
const CHECK_TYPES = ['http', 'tcp', 'grpc', 'script', 'ttl', 'alias', 'serf', 'maintenance'] as const satisfies readonly CheckType[];
const SERVICE_KINDS = ['', 'connect-proxy'] as const satisfies readonly ServiceKind[];

// Compile-time guards: a value added to these types in types.ts must be added here too, or peers
// running this code would drop every node state that uses it.
type Exhaustive<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
/** Fails to compile when types.ts gains a status, check type or service kind this codec lacks. */
export const CODEC_COVERS_TYPES: [
  Exhaustive<HealthStatus, (typeof STATUSES)[number]>,
  Exhaustive<CheckType, (typeof CHECK_TYPES)[number]>,
  Exhaustive<ServiceKind, (typeof SERVICE_KINDS)[number]>,
] = [true, true, true];

function check(v: unknown, path: string): CheckRecord {
  const t = tuple(v, 11, path);
  return {
    checkId: name(t[0], `${path}.checkId`),
    name: str(t[1], 0, CATALOG_LIMITS.maxNameChars, `${path}.name`),
    status: oneOf(t[2], STATUSES, `${path}.status`),
    notes: str(t[3], 0, CATALOG_LIMITS.maxOutputChars, `${path}.notes`),
    output: str(t[4], 0, CATALOG_LIMITS.maxOutputChars, `${path}.output`),
    serviceId: str(t[5], 0, CATALOG_LIMITS.maxNameChars, `${path}.serviceId`),
    serviceName: str(t[6], 0, CATALOG_LIMITS.maxNameChars, `${path}.serviceName`),
    serviceTags: list(t[7], CATALOG_LIMITS.maxTagsPerService, `${path}.serviceTags`).map((x, i) => str(x, 0, CATALOG_LIMITS.maxTagChars, `${path}.serviceTags[${i}]`)),
    type: oneOf(t[8], CHECK_TYPES, `${path}.type`),
    interval: str(t[9], 0, 64, `${path}.interval`),
    timeout: str(t[10], 0, 64, `${path}.timeout`),
  };
}

// ---- field checks ----

function shape(path: string, expected: string): CatalogCodecError {
  return new CatalogCodecError('shape', `${path}: expected ${expected}`);
}

function tuple(v: unknown, min: number, path: string): unknown[] {
  if (!Array.isArray(v) || v.length < min) throw shape(path, `an array of at least ${min} fields`);
  return v;
}

function at(t: unknown[], i: number, path: string): unknown {
  if (t.length <= i) throw shape(path, `an array of at least ${i + 1} fields`);
  return t[i];
}

function list(v: unknown, max: number, path: string): unknown[] {
  if (!Array.isArray(v)) throw shape(path, 'an array');
  if (v.length > max) throw new CatalogCodecError('size', `${path}: at most ${max} items, got ${v.length}`);
  return v;
}

function str(v: unknown, min: number, max: number, path: string): string {
  if (typeof v !== 'string') throw shape(path, 'a string');
  if (v.length < min || v.length > max) throw new CatalogCodecError('size', `${path}: expected ${min}-${max} characters, got ${v.length}`);
  return v;
}

// Names and identifiers: no control characters (they end up in logs, DNS answers and headers).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function name(v: unknown, path: string): string {
  const s = str(v, 1, CATALOG_LIMITS.maxNameChars, path);
  if (CONTROL.test(s)) throw shape(path, 'no control characters');
  return s;
}

function short(v: unknown, path: string): string {
  return str(v, 0, CATALOG_LIMITS.maxShortChars, path);
}

/** A gossip address `host:port` (the same bound as gossip's codec: 64 characters). */
function addr(v: unknown, path: string): string {
  const s = str(v, 3, 64, path);
  if (CONTROL.test(s) || !/:\d{1,5}$/.test(s)) throw shape(path, 'host:port');
  return s;
}

function int(v: unknown, min: number, max: number, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw shape(path, `an integer in [${min}, ${max}]`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw shape(path, 'a boolean');
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw shape(path, `one of ${allowed.join(', ')}`);
  return v as T;
}

function serviceKind(v: unknown, path: string): ServiceKind {
  return oneOf(v, SERVICE_KINDS, path);
}

function version(generation: unknown, seq: unknown, path: string): NodeVersion {
  return {
    generation: int(generation, 0, Number.MAX_SAFE_INTEGER, `${path}.version.generation`),
    seq: int(seq, 0, Number.MAX_SAFE_INTEGER, `${path}.version.seq`),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function stringMap(v: unknown, path: string): Record<string, string> {
  if (!isPlainObject(v)) throw shape(path, 'a map of strings');
  const keys = Object.keys(v);
  if (keys.length > CATALOG_LIMITS.maxMetaPairs) throw new CatalogCodecError('size', `${path}: at most ${CATALOG_LIMITS.maxMetaPairs} pairs`);
  const out: Record<string, string> = {};
  for (const k of keys) {
    str(k, 1, CATALOG_LIMITS.maxMetaKeyChars, `${path} key`);
    out[k] = str(v[k], 0, CATALOG_LIMITS.maxMetaValueChars, `${path}.${k}`);
  }
  return out;
}

/** An opaque JSON-like map (proxy and upstream `config`): plain values only, bounded depth. */
function opaqueMap(v: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(v)) throw shape(path, 'a map');
  jsonLike(v, 0, path);
  return v;
}

function jsonLike(v: unknown, depth: number, path: string): void {
  if (depth > CATALOG_LIMITS.maxConfigDepth) throw new CatalogCodecError('size', `${path}: nested deeper than ${CATALOG_LIMITS.maxConfigDepth}`);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw shape(path, 'a finite number');
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => jsonLike(x, depth + 1, `${path}[${i}]`));
    return;
  }
  if (isPlainObject(v) && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) jsonLike(x, depth + 1, `${path}.${k}`);
    return;
  }
  throw shape(path, 'JSON values only');
}
