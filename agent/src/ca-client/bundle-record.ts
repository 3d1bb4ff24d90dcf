/**
 * The trust bundle as replicated records and their wire format on channel 3 (`Channel.caBundle`) of
 * the gossip mux. The bundle is a last-writer-wins map: each key is its own register with a stamp
 * (hybrid logical clock, writing node), so the coordinator's rotation record and a server publishing
 * its intermediate never overwrite each other. A removal is a tombstone that keeps its stamp.
 *
 * Keys:
 *   root/<id>                 a root certificate (id = hex SKI)
 *   int/<dc>/<ski>/<aki>      an intermediate of cluster <dc>, or a cross-signed copy (same SKI, other issuer)
 *   active                    the root new leaves chain to (Consul's ActiveRootID)
 *   rotation/<dc>             the rotation state of cluster <dc> (see rotation.ts)
 *
 * Records derived from configuration (root_cert_file, a server's intermediate file, the dev root)
 * carry the seed stamp (0, 0, ''), which loses to every real write: a restarted or new agent never
 * brings back a root that a rotation dropped. Equal stamps fall back to comparing the encoded value,
 * so every agent picks the same winner.
 *
 * Everything decoded from a peer is bounded and shape-checked here; certificates are parsed by the
 * store before it applies them.
 */
import { decode, encode } from '@msgpack/msgpack';
import { compareStamps, type Hlc, type Stamp } from '../config-entries';
import { ROTATION_PHASES, type RotationState } from './rotation';

/** What a key holds. */
export type BundleValue =
  | { type: 'root'; pem: string }
  | { type: 'intermediate'; datacenter: string; pem: string }
  | { type: 'active'; rootId: string }
  | { type: 'rotation'; state: RotationState };

/** One key's latest write; `value` null is a tombstone. */
export interface BundleRecord extends Stamp {
  key: string;
  value: BundleValue | null;
}

/** One key's stamp, in digests. */
export interface BundleDigest extends Stamp {
  key: string;
}

/** The stamp of records derived from local configuration: older than any real write. */
export const SEED_STAMP: Stamp = Object.freeze({ hlc: Object.freeze({ wallMs: 0, counter: 0 }), node: '' });

/** Bounds on peer input. A bundle holds a handful of certificates; these are far above that. */
export const BUNDLE_LIMITS = {
  maxRecords: 256,
  maxKeyChars: 300,
  maxPemBytes: 8 * 1024,
  maxMessageBytes: 1024 * 1024,
  maxNodeChars: 128,
} as const;

export function rootKey(id: string): string {
  return `root/${id}`;
}

export function intermediateKey(dc: string, ski: string, aki: string): string {
  return `int/${dc}/${ski}/${aki}`;
}

export const ACTIVE_KEY = 'active';

export function rotationKey(dc: string): string {
  return `rotation/${dc}`;
}

/**
 * Keys every cluster of a trust domain shares over the WAN pool: roots and each cluster's
 * intermediates, so a leaf from any cluster verifies everywhere. `active` and `rotation/<dc>` stay in
 * their cluster: each cluster switches to a new root at its own rotation's step 4.
 */
export function sharedAcrossClusters(key: string): boolean {
  return key.startsWith('root/') || key.startsWith('int/');
}

/**
 * Orders two writes: stamp, then encoded value (a deterministic tie-break for equal seed stamps).
 * Rotation records compare their coordinator term first (rotation.ts): a coordinator that resumes
 * after a takeover writes with a fresh stamp but an old term, and must lose everywhere.
 */
export function compareRecords(a: BundleRecord, b: BundleRecord): number {
  const ta = a.value?.type === 'rotation' ? (a.value.state.term ?? 0) : 0;
  const tb = b.value?.type === 'rotation' ? (b.value.state.term ?? 0) : 0;
  if (ta !== tb) return ta - tb;
  const c = compareStamps(a, b);
  if (c !== 0) return c;
  const x = JSON.stringify(a.value);
  const y = JSON.stringify(b.value);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A refused peer input; `reason` labels the drop counter. */
export class BundleCodecError extends Error {
  constructor(readonly reason: 'decode' | 'shape' | 'size', message: string) {
    super(message);
    this.name = 'BundleCodecError';
  }
}

/** Messages on channel 3. */
export type BundleMessage =
  /** Broadcast after a change: stamps of changed keys and where to fetch them. */
  | { t: 'changed'; from: string; digest: BundleDigest[] }
  /** Push-pull state: every key's stamp (tombstones too). */
  | { t: 'state'; from: string; digest: BundleDigest[] }
  /** Request: the records of these keys. */
  | { t: 'get'; keys: string[] }
  /** Answer to get, or anti-entropy push. */
  | { t: 'records' | 'push'; records: BundleRecord[] }
  /** Request of a server for a staged intermediate (rotation step 3); see intermediate-transfer.ts. */
  | { t: 'fetch-intermediate'; intermediateId: string; agentCertPem: string; agentChainPem: string[] }
  /** Answer: the intermediate and its key sealed to the requester's agent key. */
  | { t: 'intermediate'; certPem: string; sealedKey: string };

/** Encodes a channel-3 message. */
export function encodeBundleMessage(m: BundleMessage): Uint8Array {
  return encode(m);
}

/** Decodes and shape-checks a channel-3 message; throws BundleCodecError. */
export function decodeBundleMessage(bytes: Uint8Array): BundleMessage {
  if (bytes.length > BUNDLE_LIMITS.maxMessageBytes) throw new BundleCodecError('size', `message of ${bytes.length} bytes`);
  let m: unknown;
  try {
    m = decode(bytes);
  } catch (err) {
    throw new BundleCodecError('decode', (err as Error).message);
  }
  const o = obj(m, 'message');
  switch (o['t']) {
    case 'changed':
    case 'state':
      return { t: o['t'], from: str(o['from'], 'from', 300), digest: arr(o['digest'], 'digest').map(digestOf) };
    case 'get':
      return { t: 'get', keys: arr(o['keys'], 'keys').map((k) => key(k)) };
    case 'records':
    case 'push':
      return { t: o['t'], records: arr(o['records'], 'records').map(recordOf) };
    case 'fetch-intermediate':
      return {
        t: 'fetch-intermediate', intermediateId: hexId(o['intermediateId'], 'intermediateId'),
        agentCertPem: pem(o['agentCertPem'], 'agentCertPem'),
        agentChainPem: arr(o['agentChainPem'], 'agentChainPem', 4).map((p, i) => pem(p, `agentChainPem[${i}]`)),
      };
    case 'intermediate':
      return { t: 'intermediate', certPem: pem(o['certPem'], 'certPem'), sealedKey: str(o['sealedKey'], 'sealedKey', 4096) };
    default:
      throw new BundleCodecError('shape', `unknown message type ${JSON.stringify(o['t'])}`);
  }
}

/** Shape-checks one record (from a peer or the persisted file). */
export function recordOf(v: unknown): BundleRecord {
  const o = obj(v, 'record');
  const k = key(o['key']);
  const hlc = hlcOf(o['hlc']);
  const node = typeof o['node'] === 'string' && o['node'].length <= BUNDLE_LIMITS.maxNodeChars ? o['node'] : bad('node');
  const value = o['value'] === null || o['value'] === undefined ? null : valueOf(o['value'], k);
  return { key: k, hlc, node, value };
}

function valueOf(v: unknown, k: string): BundleValue {
  const o = obj(v, 'value');
  const t = o['type'];
  if (t === 'root' && k.startsWith('root/')) return { type: 'root', pem: pem(o['pem'], 'pem') };
  if (t === 'intermediate' && k.startsWith('int/')) return { type: 'intermediate', datacenter: str(o['datacenter'], 'datacenter', 64), pem: pem(o['pem'], 'pem') };
  if (t === 'active' && k === ACTIVE_KEY) return { type: 'active', rootId: hexId(o['rootId'], 'rootId') };
  if (t === 'rotation' && k.startsWith('rotation/')) return { type: 'rotation', state: rotationStateOf(o['state']) };
  throw new BundleCodecError('shape', `value of type ${JSON.stringify(t)} does not belong under key ${k}`);
}

/** Shape-checks a rotation state (replicated and persisted). */
export function rotationStateOf(v: unknown): RotationState {
  const o = obj(v, 'state');
  const num = (f: string): number => (typeof o[f] === 'number' && Number.isFinite(o[f]) && (o[f] as number) >= 0 ? (o[f] as number) : bad(f));
  const phase = o['phase'];
  if (typeof phase !== 'string' || !(ROTATION_PHASES as readonly string[]).includes(phase)) bad('phase');
  const state: RotationState = {
    id: hexId(o['id'], 'id'), datacenter: str(o['datacenter'], 'datacenter', 64), oldRootId: hexId(o['oldRootId'], 'oldRootId'),
    newRootId: hexId(o['newRootId'], 'newRootId'), intermediateId: hexId(o['intermediateId'], 'intermediateId'),
    coordinator: str(o['coordinator'], 'coordinator', BUNDLE_LIMITS.maxNodeChars), reissueWindowMs: num('reissueWindowMs'),
    dropGraceMs: num('dropGraceMs'), manual: o['manual'] === true, startedAtMs: num('startedAtMs'),
    phase: phase as RotationState['phase'], phaseSinceMs: num('phaseSinceMs'),
  };
  if (o['finishedAtMs'] !== undefined && o['finishedAtMs'] !== null) state.finishedAtMs = num('finishedAtMs');
  if (o['term'] !== undefined && o['term'] !== null) {
    if (!Number.isSafeInteger(o['term']) || (o['term'] as number) < 0) bad('term');
    state.term = o['term'] as number;
  }
  return state;
}

function digestOf(v: unknown): BundleDigest {
  const o = obj(v, 'digest item');
  return { key: key(o['key']), hlc: hlcOf(o['hlc']), node: str(o['node'], 'node', BUNDLE_LIMITS.maxNodeChars, true) };
}

function hlcOf(v: unknown): Hlc {
  const o = obj(v, 'hlc');
  const wallMs = o['wallMs'];
  const counter = o['counter'];
  if (typeof wallMs !== 'number' || !Number.isSafeInteger(wallMs) || wallMs < 0) bad('hlc.wallMs');
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) bad('hlc.counter');
  return { wallMs: wallMs as number, counter: counter as number };
}

function key(v: unknown): string {
  const k = str(v, 'key', BUNDLE_LIMITS.maxKeyChars);
  if (!/^(root\/[0-9a-f]{2,128}|int\/[A-Za-z0-9_-]{1,64}\/[0-9a-f]{2,128}\/[0-9a-f]{0,128}|active|rotation\/[A-Za-z0-9_-]{1,64})$/.test(k)) {
    throw new BundleCodecError('shape', `key ${JSON.stringify(k.slice(0, 80))} is not a bundle key`);
  }
  return k;
}

function hexId(v: unknown, what: string): string {
  const s = str(v, what, 128);
  if (!/^[0-9a-f]{2,128}$/.test(s)) bad(what);
  return s;
}

function pem(v: unknown, what: string): string {
  const s = str(v, what, BUNDLE_LIMITS.maxPemBytes);
  if (!s.includes('-----BEGIN CERTIFICATE-----')) bad(what);
  return s;
}

function str(v: unknown, what: string, max: number, allowEmpty = false): string {
  if (typeof v !== 'string' || v.length > max || (!allowEmpty && v.length === 0)) bad(what);
  return v as string;
}

function arr(v: unknown, what: string, max: number = BUNDLE_LIMITS.maxRecords * 4): unknown[] {
  if (!Array.isArray(v)) bad(what);
  if ((v as unknown[]).length > max) throw new BundleCodecError('size', `${what} has ${(v as unknown[]).length} items; at most ${max}`);
  return v as unknown[];
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) bad(what);
  return v as Record<string, unknown>;
}

function bad(what: string): never {
  throw new BundleCodecError('shape', `bad ${what}`);
}
