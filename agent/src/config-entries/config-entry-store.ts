/**
 * The replicated config entry store: any agent accepts a write, every agent converges to the same
 * set, and each persists what it holds.
 *
 * - Conflicts: every write carries a stamp (hybrid logical clock, writing node); the larger stamp
 *   wins everywhere (last-writer-wins, ties broken by node name), so concurrent writes to one entry
 *   on different agents end as the same value on all of them.
 * - Deletes are tombstones with their own stamp: an older copy of the entry, arriving late from a
 *   member that was away, loses to the tombstone and never comes back. Tombstones are dropped after
 *   `tombstoneTtlMs` (72 h by default). The risk: a member that was away longer than that, and still
 *   holds the entry, brings it back when it returns (as with Cassandra's gc_grace_seconds). Keep the
 *   horizon above the longest outage after which a member may rejoin with its old data directory.
 * - Spread (channel 2 of the gossip mux): each applied write is broadcast whole when it fits a
 *   datagram, else as a digest that receivers resolve with a stream request, and relayed once by
 *   every member that applies it (same key; gossip's retransmit limit bounds each copy).
 * - Anti-entropy: push-pull carries the stamp of every key (tombstones too); each side then pushes
 *   to the other, over a stream, the records the other lacks or holds older.
 * - `put` and `delete` with `cas` compare against this agent's ModifyIndex (local semantics: the
 *   indexes are this agent's own sequence, as Consul's are one server's Raft index).
 * - Persistence: `<data_dir>/config-entries.json`, see entry-persistence.ts. A local write is
 *   acknowledged once it is on disk; replicated changes are written within `persistDelayMs`.
 */
import { Channel, type GossipChannel } from '../agent/gossip-mux';
import { CatalogCodecError } from '../catalog/catalog-codec';
import type { CatalogMux } from '../catalog/replicated-catalog';
import type { Clock, TimerHandle } from '../core/clock';
import { type Logger, noopLogger, RateLimitedLog } from '../core/logger';
import {
  type ConfigEntriesTuning, type ConfigEntryStats, type ConfigEntryStoreOptions, defaultConfigEntriesTuning, type EntryDropReason,
  type EntryMembership,
} from './config-entry-options';
import { compareHlc, compareStamps, HybridClock, type Stamp } from './hlc';
import {
  type ConfigRecord, decodeEntryMessage, type DigestItem, encodeEntryDigest, encodeEntryState, encodeFullRecord,
  encodeGetEntries, encodeRecord, encodeRecords, recordKey, type WireRecord,
} from './entry-record';
import { configEntriesPath, loadEntries, type LoadResult, saveEntries } from './entry-persistence';
import type { ConfigEntries, ConfigEntry, ConfigEntryKind, StoredEntry } from './types';
import { isConfigEntryKind, validateConfigEntry } from './validate';

/** The replicated config entry store. */
export class ConfigEntryStore implements ConfigEntries {
  private readonly self: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tuning: ConfigEntriesTuning;
  private readonly badInput: RateLimitedLog;
  private readonly path: string | undefined;
  private readonly records = new Map<string, ConfigRecord>();
  /** Address a record was learned from, for relaying digests of large records. */
  private readonly origins = new Map<string, string>();
  private readonly fetching = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private readonly waveTimers = new Set<TimerHandle>();
  private readonly counters = { dropped: { decode: 0, shape: 0, size: 0, type: 0, skew: 0 }, applied: 0, pushed: 0 };
  private hlc: HybridClock;
  /**
   * Index 1 is the empty store's (0 makes Consul clients spin), so the first write gets 2: a write
   * must change the index, or blocking queries held at 1 would not wake for it.
   */
  private lastIndex = 1;
  private mux: CatalogMux | undefined;
  private members: EntryMembership | undefined;
  private gcTimer: TimerHandle | undefined;
  private persistTimer: TimerHandle | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(opts: ConfigEntryStoreOptions) {
    this.self = opts.nodeName;
    this.clock = opts.clock;
    this.log = (opts.logger ?? noopLogger).child({ part: 'config-entries' });
    this.tuning = Object.freeze({ ...defaultConfigEntriesTuning(), ...opts.tuning });
    this.badInput = new RateLimitedLog(() => this.clock.now());
    this.path = opts.dataDir === undefined ? undefined : configEntriesPath(opts.dataDir);
    this.hlc = new HybridClock(() => this.clock.wallNow());
  }

  /**
   * Reads `<data_dir>/config-entries.json`. Call once, before `attach`. A corrupt file is moved
   * aside and reported in the result (and logged); the store then starts empty and recovers from
   * peers through anti-entropy.
   */
  async load(): Promise<LoadResult> {
    if (this.path === undefined) return { state: undefined, skippedRecords: 0 };
    const r = await loadEntries(this.path, () => this.clock.wallNow(), this.log);
    if (r.state !== undefined) {
      let latest = r.state.hlc;
      for (const rec of r.state.records) {
        this.records.set(recordKey(rec.kind, rec.name), rec);
        this.lastIndex = Math.max(this.lastIndex, rec.modifyIndex);
        if (compareHlc(rec.hlc, latest) > 0) latest = rec.hlc;
      }
      this.lastIndex = Math.max(this.lastIndex, r.state.index);
      this.hlc = new HybridClock(() => this.clock.wallNow(), latest);
      this.log.info({ path: this.path, entries: this.list().length, tombstones: this.tombstoneCount() }, 'config entries loaded');
    }
    this.changed();
    return r;
  }

  /**
   * Joins the gossip pool: registers channel 2 on `mux` (which must be attached to its memberlist).
   * Call once, after `load` and before `memberlist.start()`, so the join push-pull carries our digest.
   */
  attach(mux: CatalogMux, membership: EntryMembership): void {
    if (this.mux !== undefined) throw new Error('config entry store attached twice');
    this.mux = mux;
    this.members = membership;
    const channel: GossipChannel = {
      onBroadcast: (p) => this.onBroadcast(p),
      localState: () => this.localState(),
      mergeRemoteState: (s) => this.mergeRemoteState(s),
      handleRequest: (p) => this.handleRequest(p),
    };
    mux.register(Channel.configEntries, channel);
    this.scheduleGc();
  }

  /** Stops timers and writes pending changes to disk. */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimer(this.gcTimer);
    this.clock.clearTimer(this.persistTimer);
    for (const t of this.waveTimers) this.clock.clearTimer(t);
    this.waveTimers.clear();
    if (this.dirty || this.writing !== undefined) await this.persistNow();
  }

  // ---- ConfigEntries ----

  index(): number {
    return Math.max(1, this.lastIndex);
  }

  subscribe(fn: () => void): () => void {
    const wrapped = (): void => fn();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  get(kind: string, name: string): StoredEntry | undefined {
    const r = this.records.get(recordKey(kind, name));
    return r?.entry === undefined ? undefined : stored(r);
  }

  list(kind?: string): StoredEntry[] {
    const out: StoredEntry[] = [];
    for (const r of this.records.values()) if (r.entry !== undefined && (kind === undefined || r.kind === kind)) out.push(stored(r));
    return out.sort((a, b) => cmp(a.entry.Kind, b.entry.Kind) || cmp(a.entry.Name, b.entry.Name));
  }

  /**
   * Validates and writes an entry; resolves once it is on disk. `source` names where it came from in
   * validation problems ('request body' by default; a file path for entries from configuration).
   */
  async put(input: unknown, opts: { cas?: number; source?: string } = {}): Promise<boolean> {
    const entry = validateConfigEntry(input, opts.source ?? 'request body');
    const cur = this.records.get(recordKey(entry.Kind, entry.Name));
    if (opts.cas !== undefined && opts.cas !== (cur?.entry !== undefined ? cur.modifyIndex : 0)) return false;
    this.commitLocal(entry.Kind, entry.Name, entry);
    await this.persistNow();
    return true;
  }

  async delete(kind: string, name: string, opts: { cas?: number } = {}): Promise<boolean> {
    if (!isConfigEntryKind(kind)) return false;
    const cur = this.records.get(recordKey(kind, name));
    if (cur?.entry === undefined) return false;
    if (opts.cas !== undefined && opts.cas !== cur.modifyIndex) return false;
    this.commitLocal(kind, name, undefined);
    await this.persistNow();
    return true;
  }

  // ---- inspection ----

  /** Tombstones currently held. */
  tombstoneCount(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.entry === undefined) n++;
    return n;
  }

  /** The stamp of the latest write to an entry (tombstones included), for tests and debugging. */
  stampOf(kind: string, name: string): Stamp | undefined {
    const r = this.records.get(recordKey(kind, name));
    return r === undefined ? undefined : { hlc: { ...r.hlc }, node: r.node };
  }

  stats(): ConfigEntryStats {
    return { ...this.counters, dropped: { ...this.counters.dropped }, tombstones: this.tombstoneCount() };
  }

  /** Total refused peer inputs. */
  droppedTotal(): number {
    return Object.values(this.counters.dropped).reduce((a, b) => a + b, 0);
  }

  /** Drops tombstones older than the horizon; returns how many went. */
  collectGarbage(): number {
    const horizon = this.clock.wallNow() - this.tuning.tombstoneTtlMs;
    let n = 0;
    for (const [key, r] of this.records) {
      if (r.entry === undefined && r.hlc.wallMs < horizon) {
        this.records.delete(key);
        this.origins.delete(key);
        n++;
      }
    }
    if (n > 0) {
      this.log.info({ dropped: n }, 'dropped expired config entry tombstones');
      this.persistSoon();
    }
    return n;
  }

  // ---- applying writes ----

  private commitLocal(kind: ConfigEntryKind, name: string, entry: ConfigEntry | undefined): void {
    const rec = this.apply({ kind, name, entry, hlc: this.hlc.now(), node: this.self }, 'local');
    if (rec !== undefined) this.spread(rec);
  }

  /**
   * Applies a write if its stamp beats what we hold. Returns the stored record, or undefined when it
   * lost (or was refused).
   */
  private apply(w: WireRecord, from: 'local' | 'peer', origin?: string): ConfigRecord | undefined {
    const key = recordKey(w.kind, w.name);
    const cur = this.records.get(key);
    if (cur !== undefined && compareStamps(w, cur) <= 0) return undefined;
    if (from === 'peer') {
      if (w.hlc.wallMs > this.clock.wallNow() + this.tuning.maxClockSkewMs) {
        this.dropped(new CatalogCodecError('shape', `${key} is stamped ${w.hlc.wallMs - this.clock.wallNow()} ms in the future`), 'skew');
        return undefined;
      }
      // An expired tombstone we already collected must not come back from a slower member.
      if (w.entry === undefined && cur === undefined && w.hlc.wallMs < this.clock.wallNow() - this.tuning.tombstoneTtlMs) return undefined;
      this.hlc.receive(w.hlc);
    }
    const index = ++this.lastIndex;
    const rec: ConfigRecord = {
      ...w, createIndex: w.entry !== undefined && cur?.entry !== undefined ? cur.createIndex : index, modifyIndex: index,
    };
    this.records.set(key, rec);
    if (origin !== undefined) this.origins.set(key, origin);
    if (from === 'peer') {
      this.counters.applied++;
      this.persistSoon();
    }
    this.changed();
    return rec;
  }

  /** Broadcasts a record in relayWaves waves, unless a newer write replaces it meanwhile. */
  private spread(rec: ConfigRecord, wave = 0): void {
    if (this.closed) return;
    if (wave > 0 && this.records.get(recordKey(rec.kind, rec.name)) !== rec) return;
    this.broadcastOnce(rec);
    if (wave + 1 >= this.tuning.relayWaves) return;
    const t = this.clock.setTimer(this.tuning.relayWaveGapMs, () => {
      this.waveTimers.delete(t);
      this.spread(rec, wave + 1);
    });
    this.waveTimers.add(t);
  }

  /** Broadcasts a record whole if it fits a datagram, else as a digest. */
  private broadcastOnce(rec: WireRecord): void {
    const mux = this.mux;
    if (mux === undefined) return;
    const key = recordKey(rec.kind, rec.name);
    try {
      const full = encodeFullRecord(encodeRecord(rec));
      if (full.length <= mux.maxBroadcastBytes()) return mux.broadcast(Channel.configEntries, full, key);
      const via = this.selfAddr();
      const origin = rec.node === this.self ? via : (this.origins.get(key) ?? via);
      if (via === undefined || origin === undefined) return;
      mux.broadcast(Channel.configEntries, encodeEntryDigest(rec, origin, via), key);
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'config entry broadcast failed');
    }
  }

  // ---- gossip channel ----

  private onBroadcast(payload: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeEntryMessage(payload);
      if (m.type === 'full') {
        const rec = this.apply(m.record, 'peer');
        if (rec !== undefined) this.spread(rec);
      } else if (m.type === 'digest') {
        this.onDigest(m.item, [m.origin, m.via]);
      } else {
        throw new CatalogCodecError('type', `a ${m.type} message arrived as a broadcast`);
      }
    } catch (err) {
      this.dropped(err);
    }
  }

  private onDigest(d: DigestItem, addrs: string[]): void {
    const key = recordKey(d.kind, d.name);
    const cur = this.records.get(key);
    if ((cur !== undefined && compareStamps(d, cur) <= 0) || this.fetching.has(key)) return;
    this.fetching.add(key);
    void this.fetch(d, addrs).finally(() => this.fetching.delete(key));
  }

  /** Asks each address in turn for a record until we hold `d`'s stamp or better. */
  private async fetch(d: DigestItem, addrs: readonly string[]): Promise<void> {
    const key = recordKey(d.kind, d.name);
    for (const addr of new Set(addrs)) {
      if (this.closed || this.mux === undefined) return;
      try {
        const answer = await this.mux.request(Channel.configEntries, addr, encodeGetEntries([d]), this.tuning.requestTimeoutMs);
        const m = decodeEntryMessage(answer);
        if (m.type !== 'records') throw new CatalogCodecError('type', `a ${m.type} message arrived as an answer`);
        for (const e of m.invalid) this.dropped(e);
        for (const r of m.records) {
          const rec = this.apply(r, 'peer', addr);
          if (rec !== undefined) this.spread(rec);
        }
      } catch (err) {
        if (err instanceof CatalogCodecError) this.dropped(err);
        else this.log.debug({ addr, key, err: errorText(err) }, 'config entry fetch failed');
      }
      const cur = this.records.get(key);
      if (cur !== undefined && compareStamps(cur, d) >= 0) return;
    }
  }

  private handleRequest(payload: Uint8Array): Uint8Array | undefined {
    if (this.closed) return undefined;
    try {
      const m = decodeEntryMessage(payload);
      if (m.type === 'get') {
        const wires: Uint8Array[] = [];
        for (const k of m.keys) {
          const r = this.records.get(recordKey(k.kind, k.name));
          if (r !== undefined) wires.push(encodeRecord(r));
        }
        return encodeRecords('records', wires);
      }
      if (m.type === 'push') {
        this.applyBatch(m.records, m.invalid);
        return encodeRecords('records', []);
      }
      throw new CatalogCodecError('type', `a ${m.type} message arrived as a request`);
    } catch (err) {
      this.dropped(err);
      return undefined;
    }
  }

  /** Applies an anti-entropy batch; relays only small ones (a big one is a catch-up). */
  private applyBatch(records: readonly WireRecord[], invalid: readonly CatalogCodecError[]): void {
    for (const e of invalid) this.dropped(e);
    const applied: ConfigRecord[] = [];
    for (const r of records) {
      const rec = this.apply(r, 'peer');
      if (rec !== undefined) applied.push(rec);
    }
    if (applied.length <= this.tuning.relayCatchUpMax) for (const rec of applied) this.spread(rec);
  }

  /** Our push-pull side: the stamp of every key we hold (tombstones included) and our address. */
  private localState(): Uint8Array | undefined {
    const from = this.selfAddr();
    if (from === undefined || this.closed) return undefined;
    const digest: DigestItem[] = [];
    for (const r of this.records.values()) digest.push({ kind: r.kind, name: r.name, hlc: r.hlc, node: r.node });
    return encodeEntryState(from, digest);
  }

  /** A peer's digest: push it every record it lacks or holds older. */
  private mergeRemoteState(state: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeEntryMessage(state);
      if (m.type !== 'state') throw new CatalogCodecError('type', `a ${m.type} message arrived as push-pull state`);
      for (const e of m.invalid) this.dropped(e);
      const theirs = new Map<string, DigestItem>();
      for (const d of m.digest) theirs.set(recordKey(d.kind, d.name), d);
      const horizon = this.clock.wallNow() - this.tuning.tombstoneTtlMs;
      const send: Uint8Array[] = [];
      for (const [key, r] of this.records) {
        const t = theirs.get(key);
        if (t !== undefined && compareStamps(r, t) <= 0) continue;
        if (r.entry === undefined && t === undefined && r.hlc.wallMs < horizon) continue;
        send.push(encodeRecord(r));
      }
      if (send.length > 0) void this.push(m.from, send);
    } catch (err) {
      this.dropped(err);
    }
  }

  /** Sends records to a peer in batches of at most pushBatchBytes. */
  private async push(addr: string, wires: Uint8Array[]): Promise<void> {
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0 || this.mux === undefined) return;
      const b = batch;
      batch = [];
      size = 0;
      await this.mux.request(Channel.configEntries, addr, encodeRecords('push', b), this.tuning.requestTimeoutMs);
      this.counters.pushed += b.length;
    };
    try {
      for (const w of wires) {
        if (size + w.length > this.tuning.pushBatchBytes) await flush();
        batch.push(w);
        size += w.length;
      }
      await flush();
    } catch (err) {
      this.log.debug({ addr, err: errorText(err) }, 'config entry anti-entropy push failed');
    }
  }

  // ---- persistence ----

  /** Writes the store now (coalescing with a write in progress); resolves once on disk. */
  private persistNow(): Promise<void> {
    if (this.path === undefined) return Promise.resolve();
    this.dirty = true;
    this.clock.clearTimer(this.persistTimer);
    this.persistTimer = undefined;
    this.writing ??= this.writeLoop().finally(() => { this.writing = undefined; });
    return this.writing;
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const records = [...this.records.values()];
      await saveEntries(this.path!, { index: this.lastIndex, hlc: this.hlc.peek(), records });
    }
  }

  /** Writes the store within persistDelayMs (replicated changes arrive in bursts). */
  private persistSoon(): void {
    if (this.path === undefined) return;
    this.dirty = true;
    if (this.persistTimer !== undefined || this.closed) return;
    this.persistTimer = this.clock.setTimer(this.tuning.persistDelayMs, () => {
      this.persistTimer = undefined;
      this.persistNow().catch((err: unknown) => {
        this.log.error({ path: this.path, err: errorText(err) }, 'could not write the config entry store; will retry');
        this.dirty = true;
        this.persistTimer = this.clock.setTimer(5000, () => { this.persistTimer = undefined; this.persistSoon(); });
      });
    });
  }

  // ---- helpers ----

  private scheduleGc(): void {
    this.gcTimer = this.clock.setTimer(this.tuning.gcIntervalMs, () => {
      if (this.closed) return;
      this.collectGarbage();
      this.scheduleGc();
    });
  }

  private changed(): void {
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.log.warn({ err: errorText(err) }, 'config entry subscriber failed');
      }
    }
  }

  private selfAddr(): string | undefined {
    try {
      return this.members?.localMember().addr;
    } catch {
      return undefined; // the pool has not started
    }
  }

  private dropped(err: unknown, reason?: EntryDropReason): void {
    const r: EntryDropReason = reason ?? (err instanceof CatalogCodecError ? err.reason : 'shape');
    this.counters.dropped[r]++;
    const suppressed = this.badInput.admit(r);
    if (suppressed >= 0) this.log.debug({ reason: r, suppressed, detail: errorText(err) }, 'dropped config entry input');
  }
}

function stored(r: ConfigRecord): StoredEntry {
  return { entry: structuredClone(r.entry!), createIndex: r.createIndex, modifyIndex: r.modifyIndex };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export {
  type ConfigEntriesTuning, type ConfigEntryStats, type ConfigEntryStoreOptions, defaultConfigEntriesTuning, type EntryDropReason,
  type EntryMembership,
} from './config-entry-options';
