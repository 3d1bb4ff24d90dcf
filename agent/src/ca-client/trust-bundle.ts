/**
 * The trust bundle store: every root and every cluster intermediate this agent trusts, replicated on
 * channel 3 of the gossip mux as a last-writer-wins map (see bundle-record.ts), persisted in
 * `<data_dir>/ca/bundle.json` (0600, atomic), and read by the leaf manager, the CA server role, the
 * rotation coordinator and the HTTP API.
 *
 * Spread: a change is announced by broadcasting the changed keys' stamps and the announcer's address;
 * a member that holds an older stamp (or none) fetches the records from that address over a stream
 * and then announces them itself, so the change reaches every member even though each broadcast is
 * retransmitted only a few times. Anti-entropy: push-pull carries every key's stamp; each side pushes
 * what the other lacks. A restarted member thus catches up within one push-pull interval.
 *
 * Across clusters: servers also attach the store to the WAN pool (`attachWan`), which carries only
 * the keys every cluster shares (roots and every cluster's intermediates; see `sharedAcrossClusters`).
 * A record that arrives on either pool is announced on both (as far as each carries it), so dc1's
 * intermediate goes dc1 server -> WAN -> dc2 servers -> dc2's LAN pool. The same records, stamps and
 * last-writer-wins rule serve both pools; only the filter differs.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { certInfo, type BundleRoot, type TrustBundle } from '../../../ca/src';
import { writeFileAtomic } from '../agent/atomic-file';
import { Channel, type GossipChannel, type GossipMux } from '../agent/gossip-mux';
import { HybridClock, type Stamp } from '../config-entries';
import type { Clock, TimerHandle } from '../core/clock';
import { type Logger, RateLimitedLog } from '../core/logger';
import type { Member } from '../gossip/member';
import {
  ACTIVE_KEY, BUNDLE_LIMITS, BundleCodecError, compareRecords, decodeBundleMessage, encodeBundleMessage, intermediateKey,
  recordOf, rootKey, rotationKey, SEED_STAMP, sharedAcrossClusters, type BundleDigest, type BundleMessage, type BundleRecord, type BundleValue,
} from './bundle-record';
import type { RotationState } from './rotation';

/** File of the persisted bundle, under the data directory. */
export const BUNDLE_FILE = join('ca', 'bundle.json');

/** One intermediate (or cross-signed copy) in the bundle. */
export interface BundleIntermediate {
  datacenter: string;
  pem: string;
  /** Hex SKI: leaves name it in their AKI. */
  ski: string;
  /** Hex AKI: the root (or other CA) that signed it. */
  aki: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** One root with the facts the API shows. */
export interface BundleRootInfo extends BundleRoot {
  subject: string;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** What readers see. */
export interface BundleView {
  trustDomain: string;
  /** Local change counter (Consul's roots index); at least 1. */
  index: number;
  /** Roots held, active first then by id. */
  roots: BundleRootInfo[];
  activeRootId: string;
  intermediates: BundleIntermediate[];
  rotations: RotationState[];
}

/** The gossip pool as the bundle uses it. */
export interface BundleMembership {
  localMember(): Member;
}

/** One gossip pool the bundle rides on: the cluster's LAN pool (every key) or the servers' WAN pool (shared keys only). */
interface BundlePool {
  name: 'lan' | 'wan';
  mux: Pick<GossipMux, 'register' | 'broadcast' | 'request'>;
  members: BundleMembership;
  /** Keys this pool carries, in both directions. */
  carries: (key: string) => boolean;
}

/** Options of TrustBundleStore. */
export interface TrustBundleOptions {
  nodeName: string;
  trustDomain: string;
  /** Directory for `ca/bundle.json`; undefined keeps nothing on disk. */
  dataDir?: string;
  clock: Clock;
  logger: Logger;
  /** Answers channel-3 requests this store does not know (intermediate fetches on servers). */
  extraRequest?: (m: BundleMessage) => Promise<BundleMessage | undefined>;
  /** Stream request timeout: 5 s. */
  requestTimeoutMs?: number;
  /** Delay before writing replicated changes to disk: 200 ms (changes arrive in bursts). */
  persistDelayMs?: number;
}

/** The replicated trust bundle. */
export class TrustBundleStore implements GossipChannel {
  private readonly records = new Map<string, BundleRecord>();
  private readonly listeners = new Set<() => void>();
  private readonly badInput: RateLimitedLog;
  private readonly hlc: HybridClock;
  private readonly path: string | undefined;
  private lan: BundlePool | undefined;
  private wan: BundlePool | undefined;
  private lastIndex = 1;
  private cached: BundleView | undefined;
  private persistTimer: TimerHandle | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  /** Refused peer inputs by reason, for metrics and tests. */
  readonly dropped = { decode: 0, shape: 0, size: 0, cert: 0 };

  constructor(private readonly opts: TrustBundleOptions) {
    this.badInput = new RateLimitedLog(() => opts.clock.now());
    this.hlc = new HybridClock(() => opts.clock.wallNow());
    this.path = opts.dataDir === undefined ? undefined : join(opts.dataDir, BUNDLE_FILE);
  }

  // ---- lifecycle ----

  /** Reads the persisted bundle; a corrupt file is moved aside (peers refill the bundle). */
  async load(): Promise<void> {
    if (this.path === undefined) return;
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const doc = JSON.parse(text) as { records?: unknown };
      if (!Array.isArray(doc.records)) throw new Error('no records');
      for (const raw of doc.records.slice(0, BUNDLE_LIMITS.maxRecords)) {
        const r = recordOf(raw);
        if (this.certificatesValid(r)) this.records.set(r.key, r);
        this.hlc.receive(r.hlc);
      }
    } catch (err) {
      const aside = `${this.path}.corrupt-${Math.round(this.opts.clock.wallNow())}`;
      await fs.rename(this.path, aside).catch(() => {});
      this.opts.logger.warn({ path: this.path, movedTo: aside, err: (err as Error).message }, 'trust bundle file is corrupt; moved aside, peers will refill it');
      this.records.clear();
    }
    this.changed();
  }

  /** Registers channel 3 on the mux; call before the pool starts so the join push-pull carries the bundle. */
  attach(mux: Pick<GossipMux, 'register' | 'broadcast' | 'request'>, membership: BundleMembership): void {
    this.lan = { name: 'lan', mux, members: membership, carries: () => true };
    mux.register(Channel.caBundle, this);
  }

  /**
   * Servers: registers channel 3 on the WAN pool's mux too, carrying only the keys clusters share
   * (roots, intermediates), so every cluster's intermediate reaches every cluster. Call before the
   * WAN pool starts.
   */
  attachWan(mux: Pick<GossipMux, 'register' | 'broadcast' | 'request'>, membership: BundleMembership): void {
    const pool: BundlePool = { name: 'wan', mux, members: membership, carries: sharedAcrossClusters };
    this.wan = pool;
    mux.register(Channel.caBundle, {
      onBroadcast: (payload) => this.poolBroadcast(pool, payload),
      localState: () => this.poolState(pool),
      mergeRemoteState: (state) => this.poolMerge(pool, state),
      handleRequest: (payload) => this.poolRequest(pool, payload),
    });
  }

  /** Writes pending changes; no further gossip is handled. */
  async close(): Promise<void> {
    this.closed = true;
    this.opts.clock.clearTimer(this.persistTimer);
    if (this.dirty || this.writing !== undefined) await this.persistNow();
  }

  // ---- reading ----

  index(): number {
    return this.lastIndex;
  }

  /** Calls `fn` after every change; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void {
    const wrapped = (): void => fn();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  /** The bundle as readers use it (cached until the next change). */
  view(): BundleView {
    this.cached ??= this.buildView();
    return this.cached;
  }

  /** The contract's TrustBundle shape. */
  trustBundle(): TrustBundle {
    const v = this.view();
    const intermediates: Record<string, string[]> = {};
    for (const i of v.intermediates) (intermediates[i.datacenter] ??= []).push(i.pem);
    return { trustDomain: v.trustDomain, roots: v.roots.map((r) => ({ id: r.id, pem: r.pem, active: r.active })), intermediates, version: v.index };
  }

  /** Ids of the roots held (the `ca_trust` tag). */
  rootIds(): string[] {
    return this.view().roots.map((r) => r.id);
  }

  /** PEMs of every root held (trust anchors for TLS). */
  rootPems(): string[] {
    return this.view().roots.map((r) => r.pem);
  }

  /** The rotation state of a cluster, if one was ever started. */
  rotation(datacenter: string): RotationState | undefined {
    const r = this.records.get(rotationKey(datacenter));
    return r?.value?.type === 'rotation' ? r.value.state : undefined;
  }

  /** True when a record (tombstones included) exists for `key`. */
  has(key: string): boolean {
    return this.records.has(key);
  }

  /** The value at `key`, undefined when absent or removed. */
  get(key: string): BundleValue | undefined {
    return this.records.get(key)?.value ?? undefined;
  }

  // ---- writing ----

  /**
   * Adds records from local configuration (root_cert_file, a server's intermediate, the dev root)
   * with the seed stamp, only where no record (not even a tombstone) exists for the key.
   */
  seed(entries: ReadonlyArray<{ key: string; value: BundleValue }>): void {
    let any = false;
    for (const e of entries) {
      if (this.records.has(e.key)) continue;
      const r: BundleRecord = { key: e.key, value: e.value, ...SEED_STAMP };
      if (!this.certificatesValid(r)) continue;
      this.records.set(e.key, r);
      any = true;
    }
    if (any) {
      this.changed();
      this.persistSoon();
    }
  }

  /**
   * Writes a value (null removes) with a fresh stamp, unless it already holds exactly that or the
   * write would lose to the record held (a rotation record of a later coordinator term). Returns
   * true when written.
   */
  write(key: string, value: BundleValue | null): boolean {
    const cur = this.records.get(key);
    if (cur !== undefined && JSON.stringify(cur.value) === JSON.stringify(value)) return false;
    if (cur === undefined && value === null) return false;
    const r: BundleRecord = { key, value, hlc: this.hlc.now(), node: this.opts.nodeName };
    if (cur !== undefined && compareRecords(r, cur) <= 0) return false;
    if (!this.certificatesValid(r)) throw new Error(`refusing to write an invalid certificate under ${key}`);
    this.apply(r);
    this.persistSoon();
    this.announce([r]);
    return true;
  }

  /** Adds a root (inactive unless `active` is written separately). */
  putRoot(id: string, pem: string): boolean {
    return this.write(rootKey(id), { type: 'root', pem });
  }

  /** Adds an intermediate (or a cross-signed copy) of `datacenter`. */
  putIntermediate(datacenter: string, pem: string): boolean {
    const info = certInfo(pem);
    return this.write(intermediateKey(datacenter, info.skiHex, info.akiHex), { type: 'intermediate', datacenter, pem });
  }

  // ---- gossip channel (the LAN pool; the WAN pool's adapter calls the same methods) ----

  onBroadcast(payload: Uint8Array): void {
    if (this.lan !== undefined) this.poolBroadcast(this.lan, payload);
  }

  localState(): Uint8Array | undefined {
    return this.lan === undefined ? undefined : this.poolState(this.lan);
  }

  mergeRemoteState(state: Uint8Array): void {
    if (this.lan !== undefined) this.poolMerge(this.lan, state);
  }

  async handleRequest(payload: Uint8Array): Promise<Uint8Array | undefined> {
    return this.lan === undefined ? undefined : this.poolRequest(this.lan, payload);
  }

  /** Sends a channel-3 request to the member at `addr` in the LAN pool and decodes the answer. */
  async request(addr: string, m: BundleMessage): Promise<BundleMessage> {
    if (this.lan === undefined) throw new Error('trust bundle is not attached to a gossip pool');
    return this.poolAsk(this.lan, addr, m);
  }

  private poolBroadcast(pool: BundlePool, payload: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeBundleMessage(payload);
      if (m.t !== 'changed') throw new BundleCodecError('shape', `a ${m.t} message arrived as a broadcast`);
      void this.fetchNewer(pool, m.from, m.digest);
    } catch (err) {
      this.drop(err);
    }
  }

  private poolState(pool: BundlePool): Uint8Array | undefined {
    const from = this.selfAddr(pool);
    if (from === undefined || this.closed) return undefined;
    return encodeBundleMessage({ t: 'state', from, digest: this.digest(pool) });
  }

  private poolMerge(pool: BundlePool, state: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeBundleMessage(state);
      if (m.t !== 'state') throw new BundleCodecError('shape', `a ${m.t} message arrived as push-pull state`);
      const theirs = new Map(m.digest.map((d) => [d.key, d]));
      const send = [...this.records.values()].filter((r) => {
        if (!pool.carries(r.key)) return false;
        const t = theirs.get(r.key);
        return t === undefined || newerStamp(r, t);
      });
      if (send.length > 0) void this.poolAsk(pool, m.from, { t: 'push', records: send }).catch((err: unknown) => this.debug('bundle push failed', err, { pool: pool.name }));
      // Pull too: a member that joined with a seed-stamped copy learns the real records at once.
      void this.fetchNewer(pool, m.from, m.digest);
    } catch (err) {
      this.drop(err);
    }
  }

  private async poolRequest(pool: BundlePool, payload: Uint8Array): Promise<Uint8Array | undefined> {
    if (this.closed) return undefined;
    let m: BundleMessage;
    try {
      m = decodeBundleMessage(payload);
    } catch (err) {
      this.drop(err);
      return undefined;
    }
    if (m.t === 'get') {
      const records = m.keys.filter(pool.carries).map((k) => this.records.get(k)).filter((r): r is BundleRecord => r !== undefined);
      return encodeBundleMessage({ t: 'records', records });
    }
    if (m.t === 'push') {
      this.applyPeer(m.records, pool);
      return encodeBundleMessage({ t: 'records', records: [] });
    }
    // Intermediate hand-off (rotation step 3) is between servers of one cluster: LAN only.
    const answer = pool.name === 'lan' ? await this.opts.extraRequest?.(m) : undefined;
    return answer === undefined ? undefined : encodeBundleMessage(answer);
  }

  private async poolAsk(pool: BundlePool, addr: string, m: BundleMessage): Promise<BundleMessage> {
    const answer = await pool.mux.request(Channel.caBundle, addr, encodeBundleMessage(m), this.opts.requestTimeoutMs ?? 5000);
    return decodeBundleMessage(answer);
  }

  // ---- internals ----

  private async fetchNewer(pool: BundlePool, from: string, digest: readonly BundleDigest[]): Promise<void> {
    const want = digest.filter((d) => {
      if (!pool.carries(d.key)) return false;
      const cur = this.records.get(d.key);
      return cur === undefined || newerStamp(d, cur);
    }).map((d) => d.key);
    if (want.length === 0) return;
    try {
      const answer = await this.poolAsk(pool, from, { t: 'get', keys: want });
      if (answer.t !== 'records') throw new BundleCodecError('shape', `a ${answer.t} message arrived as an answer`);
      this.applyPeer(answer.records, pool);
    } catch (err) {
      if (err instanceof BundleCodecError) this.drop(err);
      else this.debug('bundle fetch failed', err, { from, pool: pool.name });
    }
  }

  /** Applies peer records that beat ours; announces what changed (on every pool) so it spreads further. */
  private applyPeer(records: readonly BundleRecord[], pool: BundlePool): void {
    const applied: BundleRecord[] = [];
    for (const r of records) {
      if (!pool.carries(r.key)) {
        // A cluster-scoped key (active root, rotation state) from another cluster: never ours to take.
        this.drop(new BundleCodecError('shape', `${r.key} arrived on the ${pool.name.toUpperCase()} pool, which does not carry it`));
        continue;
      }
      const cur = this.records.get(r.key);
      if (cur !== undefined && compareRecords(r, cur) <= 0) continue;
      if (cur === undefined && this.records.size >= BUNDLE_LIMITS.maxRecords) {
        this.drop(new BundleCodecError('size', `bundle already holds ${this.records.size} records`));
        continue;
      }
      if (r.hlc.wallMs > this.opts.clock.wallNow() + 5 * 60_000) {
        this.drop(new BundleCodecError('shape', `${r.key} is stamped in the future`));
        continue;
      }
      if (!this.certificatesValid(r)) {
        this.dropped.cert++;
        continue;
      }
      this.hlc.receive(r.hlc);
      this.apply(r);
      applied.push(r);
    }
    if (applied.length > 0) {
      this.persistSoon();
      this.announce(applied);
    }
  }

  private apply(r: BundleRecord): void {
    this.records.set(r.key, r);
    this.lastIndex++;
    this.changed();
  }

  private announce(records: readonly BundleRecord[]): void {
    if (this.closed) return;
    for (const pool of [this.lan, this.wan]) {
      const from = pool === undefined ? undefined : this.selfAddr(pool);
      if (pool === undefined || from === undefined) continue;
      for (const r of records) {
        if (!pool.carries(r.key)) continue;
        try {
          pool.mux.broadcast(Channel.caBundle, encodeBundleMessage({ t: 'changed', from, digest: [{ key: r.key, hlc: r.hlc, node: r.node }] }), r.key);
        } catch (err) {
          this.debug('bundle broadcast failed', err, { pool: pool.name });
        }
      }
    }
  }

  /** Certificates in a record parse and say what the key says (a root is a CA whose SKI is its id). */
  private certificatesValid(r: BundleRecord): boolean {
    const v = r.value;
    if (v === null || v.type === 'active' || v.type === 'rotation') return true;
    try {
      const info = certInfo(v.pem);
      if (!info.isCa) return false;
      if (v.type === 'root') return r.key === rootKey(info.skiHex);
      return r.key === intermediateKey(v.datacenter, info.skiHex, info.akiHex);
    } catch {
      return false;
    }
  }

  private digest(pool: BundlePool): BundleDigest[] {
    return [...this.records.values()].filter((r) => pool.carries(r.key)).map((r) => ({ key: r.key, hlc: r.hlc, node: r.node }));
  }

  private buildView(): BundleView {
    const active = this.records.get(ACTIVE_KEY)?.value;
    const activeRootId = active?.type === 'active' ? active.rootId : '';
    const roots: BundleRootInfo[] = [];
    const intermediates: BundleIntermediate[] = [];
    const rotations: RotationState[] = [];
    for (const r of this.records.values()) {
      const v = r.value;
      if (v === null) continue;
      if (v.type === 'root') {
        const info = certInfo(v.pem);
        roots.push({ id: info.skiHex, pem: v.pem, active: info.skiHex === activeRootId, subject: info.subject, serialHex: info.serialHex, notBeforeMs: info.notBeforeMs, notAfterMs: info.notAfterMs });
      } else if (v.type === 'intermediate') {
        const info = certInfo(v.pem);
        intermediates.push({ datacenter: v.datacenter, pem: v.pem, ski: info.skiHex, aki: info.akiHex, notBeforeMs: info.notBeforeMs, notAfterMs: info.notAfterMs });
      } else if (v.type === 'rotation') {
        rotations.push(v.state);
      }
    }
    roots.sort((a, b) => Number(b.active) - Number(a.active) || (a.id < b.id ? -1 : 1));
    intermediates.sort((a, b) => (a.datacenter + a.ski + a.aki < b.datacenter + b.ski + b.aki ? -1 : 1));
    return { trustDomain: this.opts.trustDomain, index: this.lastIndex, roots, activeRootId, intermediates, rotations };
  }

  private changed(): void {
    this.cached = undefined;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'trust bundle subscriber failed');
      }
    }
  }

  private persistSoon(): void {
    if (this.path === undefined || this.closed) return;
    this.dirty = true;
    if (this.persistTimer !== undefined) return;
    this.persistTimer = this.opts.clock.setTimer(this.opts.persistDelayMs ?? 200, () => {
      this.persistTimer = undefined;
      this.persistNow().catch((err: unknown) => {
        this.opts.logger.error({ path: this.path, err: (err as Error).message }, 'could not write the trust bundle; will retry');
        this.dirty = true;
        this.persistTimer = this.opts.clock.setTimer(5000, () => { this.persistTimer = undefined; this.persistSoon(); });
      });
    });
  }

  /** Writes the bundle now (coalescing with a write in progress). */
  persistNow(): Promise<void> {
    if (this.path === undefined) return Promise.resolve();
    this.dirty = true;
    this.writing ??= (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          await fs.mkdir(join(this.path!, '..'), { recursive: true, mode: 0o700 });
          await writeFileAtomic(this.path!, `${JSON.stringify({ format: 1, records: [...this.records.values()] })}\n`, 0o600);
        }
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  private selfAddr(pool: BundlePool): string | undefined {
    try {
      return pool.members.localMember().addr;
    } catch {
      return undefined;
    }
  }

  private drop(err: unknown): void {
    const reason = err instanceof BundleCodecError ? err.reason : 'shape';
    this.dropped[reason]++;
    const suppressed = this.badInput.admit(reason);
    if (suppressed >= 0) this.opts.logger.debug({ reason, suppressed, detail: (err as Error).message }, 'dropped trust bundle input');
  }

  private debug(msg: string, err: unknown, fields: object = {}): void {
    this.opts.logger.debug({ ...fields, err: err instanceof Error ? err.message : String(err) }, msg);
  }
}

/** True when stamp `a` is newer than `b` (seed stamps compare by stamp only here: content ties are resolved on apply). */
function newerStamp(a: Stamp, b: Stamp): boolean {
  return a.hlc.wallMs !== b.hlc.wallMs ? a.hlc.wallMs > b.hlc.wallMs : a.hlc.counter !== b.hlc.counter ? a.hlc.counter > b.hlc.counter : a.node > b.node;
}
