/**
 * The replicated service catalog: every node's services and check states, spread by gossip on
 * channel 1 of the gossip mux, as this agent sees them.
 *
 * Each agent is the only writer of its own node's state (`setLocal`), versioned
 * (generation = this run's start wall time, seq = change count), in the manner of scuttlebutt:
 *
 * - Spread: a change is broadcast whole when it fits a datagram, otherwise as a digest {node,
 *   version, origin address}; receivers that are behind fetch the state over a stream from the
 *   node, or from the member that relayed the digest. Broadcasts are keyed by node name, so a newer
 *   state replaces a queued older one.
 * - Relay: a receiver that applies a newer version re-broadcasts it (same key), each copy bounded by
 *   gossip's retransmit limit, so a change reaches N members in O(log N) gossip rounds.
 * - Anti-entropy: push-pull carries every node's version, the most recently changed states whole
 *   up to a byte budget, and our address; the peer fetches whatever else it lacks.
 * - Liveness: a node is visible while gossip holds it alive or suspect. A failed or left node's
 *   state is kept (invisible) so a stale rumour cannot bring back an old version, and dropped when
 *   gossip reaps the member; when the node comes back its services reappear, fetched if missing.
 *
 * Everything a peer sends is validated by catalog-codec.ts; bad input is counted and dropped, and
 * no gossip callback ever throws.
 *
 * The class is one protocol state machine (local state, spreading, the channel hooks, membership
 * and queries share its entries and index); options and tunables live in replicated-options.ts.
 */
import { Channel, type GossipChannel } from '../agent/gossip-mux';
import type { Clock, TimerHandle } from '../core/clock';
import { type Logger, noopLogger, RateLimitedLog } from '../core/logger';
import type { MemberEvent } from '../gossip/member';
import {
  CATALOG_LIMITS, CatalogCodecError, type CatalogDropReason, type DigestEntry, decodeBounded, decodeCatalogMessage,
  encodeAnswer, encodeDigest, encodeFull, encodeGet, encodeNodeCatalog, encodeState, nodeCatalog,
} from './catalog-codec';
import { ReplicatedFetcher } from './replicated-fetch';
import {
  type CatalogMembership, type CatalogMux, type CatalogStats, type CatalogTuning, defaultCatalogTuning, type LocalSnapshot,
  type ReplicatedCatalogOptions,
} from './replicated-options';
import { buildNodeView, type NodeView, QueryIndex } from './replicated-view';
import {
  type CatalogReader, type CheckRecord, compareVersions, type HealthStatus, type NodeCatalog, type NodeVersion,
  type ServiceInstance, type ServiceRecord,
} from './types';

interface Entry {
  state: NodeCatalog;
  wire: Uint8Array;
  view: NodeView;
  /** Gossip holds the node alive or suspect. */
  live: boolean;
  /** Clock time it was applied; orders push-pull's whole states and the unknown-member sweep. */
  updatedAtMs: number;
  /** The node's gossip address, as a digest told us (used when relaying digests). */
  origin: string | undefined;
}

/** How often states of nodes gossip does not know are looked for. */
const SWEEP_INTERVAL_MS = 60_000;

/** The replicated catalog (a CatalogReader). */
export class ReplicatedCatalog implements CatalogReader {
  private readonly self: string;
  private readonly tuning: CatalogTuning;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly badInput: RateLimitedLog;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  private readonly fetcher: ReplicatedFetcher;
  private readonly timers = new Set<TimerHandle>();
  private readonly counters: CatalogStats = {
    dropped: { decode: 0, shape: 0, size: 0, type: 0 }, applied: 0, broadcastsFull: 0, broadcastsDigest: 0,
    fetchesStarted: 0, fetchesFailed: 0,
  };
  private mux: CatalogMux | undefined;
  private members: CatalogMembership | undefined;
  private unsubscribe: (() => void) | undefined;
  private idx = 1;
  private query: QueryIndex | undefined;
  private version: NodeVersion;
  /** Encoding of our state with check outputs blanked: what counts as a material change. */
  private localMaterial: Uint8Array | undefined;
  private lastPublishMs = -Infinity;
  private pendingOutput: LocalSnapshot | undefined;
  private outputTimer: TimerHandle | undefined;
  private selfSpreadTimer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly opts: ReplicatedCatalogOptions) {
    this.self = opts.nodeName;
    this.clock = opts.clock;
    this.tuning = Object.freeze({ ...defaultCatalogTuning(), ...opts.tuning });
    this.log = (opts.logger ?? noopLogger).child({ part: 'catalog' });
    this.badInput = new RateLimitedLog(() => this.clock.now());
    this.version = { generation: opts.generation ?? Math.floor(this.clock.wallNow()), seq: 0 };
    this.fetcher = new ReplicatedFetcher(
      { clock: this.clock, fetch: (node, addr) => this.fetchFrom(node, addr), have: (node) => this.entries.get(node)?.state.version },
      { maxInFlight: this.tuning.fetchConcurrency, maxAttempts: this.tuning.fetchAttempts, retryDelayMs: this.tuning.fetchRetryMs },
    );
    this.store(this.buildLocal([], []), true, undefined);
  }

  /**
   * Joins the gossip pool: registers channel 1 on `mux` and follows `membership` events. Call once,
   * after `mux.attach(memberlist)` and before `memberlist.start()`, so the first push-pull of a join
   * already carries the catalog.
   */
  attach(mux: CatalogMux, membership: CatalogMembership): void {
    if (this.mux !== undefined) throw new Error('catalog attached twice');
    this.mux = mux;
    this.members = membership;
    const channel: GossipChannel = {
      onBroadcast: (p) => this.onBroadcast(p),
      localState: (join) => this.localState(join),
      mergeRemoteState: (s) => this.mergeRemoteState(s),
      handleRequest: (p) => this.handleRequest(p),
    };
    mux.register(Channel.catalog, channel);
    this.unsubscribe = membership.on((e) => this.onMemberEvent(e));
    this.every(SWEEP_INTERVAL_MS, () => this.sweepUnknown());
    this.spreadSelf();
  }

  /**
   * Replaces this node's services and checks (the local registry calls it after every change). A
   * material change (anything but check output) spreads at once; output-only changes at most every
   * `checkOutputSyncMs`. `serf` checks are ignored: readers compute node health themselves. Throws
   * CatalogCodecError when the state breaks the wire limits peers enforce (a local registry bug).
   */
  setLocal(snapshot: LocalSnapshot): void {
    if (this.closed) return;
    const services = [...snapshot.services].sort((a, b) => cmp(a.id, b.id));
    const checks = snapshot.checks.filter((c) => c.type !== 'serf').sort((a, b) => cmp(a.checkId, b.checkId));
    const material = encodeNodeCatalog({
      ...this.buildLocal(services, checks.map((c) => ({ ...c, output: '' }))), version: { generation: 0, seq: 0 },
    });
    if (this.localMaterial !== undefined && sameBytes(material, this.localMaterial)) {
      const current = this.entries.get(this.self)!.state;
      if (sameBytes(encodeNodeCatalog({ ...current, services, checks }), this.entries.get(this.self)!.wire)) return;
      this.pendingOutput = { services, checks };
      this.scheduleOutputSync();
      return;
    }
    this.publish(services, checks, material);
  }

  /** Stops timers, fetches and event handling (the channel stays registered but goes quiet). */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) this.clock.clearTimer(t);
    this.timers.clear();
    this.clock.clearTimer(this.outputTimer);
    this.clock.clearTimer(this.selfSpreadTimer);
    this.fetcher.close();
  }

  /** This node's current version. */
  localVersion(): NodeVersion {
    return { ...this.version };
  }

  /** The version held for `node` (visible or not), or undefined. */
  versionOf(node: string): NodeVersion | undefined {
    const v = this.entries.get(node)?.state.version;
    return v === undefined ? undefined : { ...v };
  }

  /** Counters for metrics and tests. */
  stats(): CatalogStats {
    return {
      ...this.counters, dropped: { ...this.counters.dropped },
      fetchesStarted: this.fetcher.started, fetchesFailed: this.fetcher.failures,
    };
  }

  /** Total refused peer inputs. */
  droppedTotal(): number {
    const d = this.counters.dropped;
    return d.decode + d.shape + d.size + d.type;
  }

  // ---- CatalogReader ----

  index(): number {
    return this.idx;
  }

  subscribe(fn: () => void): () => void {
    const wrapped = (): void => fn();
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  nodes(): NodeCatalog[] {
    return [...this.queryIndex().nodes];
  }

  node(name: string): NodeCatalog | undefined {
    const e = this.entries.get(name);
    return e !== undefined && this.visible(e) ? e.view.node : undefined;
  }

  services(): Map<string, string[]> {
    return this.queryIndex().services();
  }

  instances(name: string, opts?: { tag?: string; passingOnly?: boolean; connect?: boolean }): ServiceInstance[] {
    return this.queryIndex().instances(name, opts);
  }

  serviceChecks(name: string): CheckRecord[] {
    return this.queryIndex().serviceChecks(name);
  }

  checksInState(status: HealthStatus | 'any'): CheckRecord[] {
    return this.queryIndex().checksInState(status);
  }

  // ---- local state ----

  private buildLocal(services: readonly ServiceRecord[], checks: readonly CheckRecord[]): NodeCatalog {
    return {
      node: this.self, address: this.opts.address, datacenter: this.opts.datacenter, meta: { ...(this.opts.meta ?? {}) },
      version: { ...this.version }, services, checks,
    };
  }

  private publish(services: readonly ServiceRecord[], checks: readonly CheckRecord[], material: Uint8Array): void {
    const next = { generation: this.version.generation, seq: this.version.seq + 1 };
    const first = encodeNodeCatalog({ ...this.buildLocal(services, checks), version: next });
    // Peers enforce these limits; refuse here what they would drop, loudly.
    if (first.length > CATALOG_LIMITS.maxNodeStateBytes) {
      throw new CatalogCodecError('size', `this node's catalog state takes ${first.length} bytes; the limit is ${CATALOG_LIMITS.maxNodeStateBytes}`);
    }
    // Keep the state exactly as peers will decode it, so their relays of it are byte-identical to
    // ours (onSelfEcho compares bytes) and readers here see what readers elsewhere see.
    const state = nodeCatalog(decodeBounded(first), 'local');
    const wire = encodeNodeCatalog(state);
    this.version = next;
    this.localMaterial = material;
    this.lastPublishMs = this.clock.now();
    this.pendingOutput = undefined;
    this.clock.clearTimer(this.outputTimer);
    this.outputTimer = undefined;
    this.store(state, true, undefined, wire);
    this.spreadSelf();
  }

  private scheduleOutputSync(): void {
    if (this.outputTimer !== undefined) return;
    const delay = Math.max(0, this.lastPublishMs + this.tuning.checkOutputSyncMs - this.clock.now());
    this.outputTimer = this.clock.setTimer(delay, () => {
      this.outputTimer = undefined;
      const p = this.pendingOutput;
      if (p === undefined || this.closed) return;
      this.publish(p.services, p.checks, this.localMaterial!);
    });
  }

  /** Broadcasts our own state; retried until the pool has started (our address is known). */
  private spreadSelf(): void {
    this.clock.clearTimer(this.selfSpreadTimer);
    this.selfSpreadTimer = undefined;
    if (this.mux === undefined || this.closed) return;
    const own = this.entries.get(this.self)!;
    if (this.selfAddr() === undefined || !this.spread(own)) {
      this.selfSpreadTimer = this.clock.setTimer(1000, () => this.spreadSelf());
      return;
    }
    this.laterWaves(own);
  }

  /** Broadcasts `e` again relayWaves - 1 times, unless a newer state replaced it meanwhile. */
  private laterWaves(e: Entry, wave = 1): void {
    if (wave >= this.tuning.relayWaves) return;
    const t = this.clock.setTimer(this.tuning.relayWaveGapMs, () => {
      this.timers.delete(t);
      if (this.closed || this.entries.get(e.state.node) !== e) return;
      this.spread(e);
      this.laterWaves(e, wave + 1);
    });
    this.timers.add(t);
  }

  /**
   * Someone spread a state for our name above our version (or at it, with other content): a
   * previous run whose wall clock was ahead, or a second process with our name. Out-bid it so our
   * current state wins everywhere. Our own state echoed back by relays is the normal case: ignored.
   */
  private onSelfEcho(v: NodeVersion, wire?: Uint8Array): void {
    const c = compareVersions(v, this.version);
    const own = this.entries.get(this.self)!;
    if (c < 0 || (c === 0 && (wire === undefined || sameBytes(wire, own.wire)))) return;
    this.log.warn({ seen: v, ours: this.version }, 'another process spread catalog state for this node name; superseding it');
    this.version = { generation: v.generation, seq: v.seq };
    this.publish(own.state.services, own.state.checks, this.localMaterial ?? new Uint8Array(0));
  }

  // ---- storing and spreading ----

  private store(state: NodeCatalog, live: boolean, origin: string | undefined, wire = encodeNodeCatalog(state)): Entry {
    const prev = this.entries.get(state.node);
    const e: Entry = {
      state, wire, view: buildNodeView(state), live, updatedAtMs: this.clock.now(), origin: origin ?? prev?.origin,
    };
    this.entries.set(state.node, e);
    if (this.visible(e) || (prev !== undefined && this.visible(prev))) this.changed();
    return e;
  }

  /** Applies a peer's state if newer; relays what it applied. */
  private applyRemote(state: NodeCatalog, origin?: string): boolean {
    if (state.node === this.self) {
      this.onSelfEcho(state.version, encodeNodeCatalog(state));
      return false;
    }
    const prev = this.entries.get(state.node);
    if (prev !== undefined && compareVersions(state.version, prev.state.version) <= 0) return false;
    const wire = encodeNodeCatalog(state);
    if (wire.length > CATALOG_LIMITS.maxNodeStateBytes) {
      this.dropped(new CatalogCodecError('size', `state of ${state.node} takes ${wire.length} bytes`));
      return false;
    }
    const e = this.store(state, prev?.live ?? this.memberLive(state.node), origin, wire);
    this.counters.applied++;
    if (this.spread(e)) this.laterWaves(e);
    return true;
  }

  /** Broadcasts a state whole if it fits a datagram, else as a digest; false when it could not. */
  private spread(e: Entry): boolean {
    if (this.mux === undefined) return false;
    try {
      const full = encodeFull(e.wire);
      if (full.length <= this.mux.maxBroadcastBytes()) {
        this.mux.broadcast(Channel.catalog, full, e.state.node);
        this.counters.broadcastsFull++;
        return true;
      }
      const via = this.selfAddr();
      const origin = e.state.node === this.self ? via : (this.members?.member(e.state.node)?.addr ?? e.origin ?? via);
      if (via === undefined || origin === undefined) return false;
      this.mux.broadcast(Channel.catalog, encodeDigest({ node: e.state.node, version: e.state.version }, origin, via), e.state.node);
      this.counters.broadcastsDigest++;
      return true;
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'catalog broadcast failed');
      return false;
    }
  }

  // ---- gossip channel ----

  private onBroadcast(payload: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeCatalogMessage(payload);
      if (m.type === 'full') this.applyRemote(m.catalog);
      else if (m.type === 'digest') this.onDigest(m.entry, m.origin, m.via);
      else throw new CatalogCodecError('type', `a ${m.type} message arrived as a broadcast`);
    } catch (err) {
      this.dropped(err);
    }
  }

  private onDigest(d: DigestEntry, origin: string, via: string): void {
    if (d.node === this.self) return this.onSelfEcho(d.version);
    const e = this.entries.get(d.node);
    if (e !== undefined && e.origin === undefined) e.origin = origin;
    if (e !== undefined && compareVersions(d.version, e.state.version) <= 0) return;
    if (this.memberGone(d.node)) return;
    // The relaying member first: it applied this version before relaying it, and asking relayers
    // spreads the fetches of a large state along the gossip tree instead of all onto its node.
    this.fetcher.want(d.node, d.version, [via, this.members?.member(d.node)?.addr, origin]);
  }

  private async fetchFrom(node: string, addr: string): Promise<void> {
    const mux = this.mux;
    if (mux === undefined) return;
    const answer = await mux.request(Channel.catalog, addr, encodeGet(node), this.tuning.fetchTimeoutMs);
    if (this.closed) return;
    try {
      const m = decodeCatalogMessage(answer);
      if (m.type !== 'answer') throw new CatalogCodecError('type', `a ${m.type} message arrived as an answer`);
      if (m.catalog !== undefined && m.catalog.node !== node) throw new CatalogCodecError('shape', `asked for ${node}, got ${m.catalog.node}`);
      if (m.catalog !== undefined) this.applyRemote(m.catalog, this.members?.member(node)?.addr);
    } catch (err) {
      this.dropped(err);
      throw err;
    }
  }

  private handleRequest(payload: Uint8Array): Uint8Array | undefined {
    if (this.closed) return undefined;
    try {
      const m = decodeCatalogMessage(payload);
      if (m.type !== 'get') throw new CatalogCodecError('type', `a ${m.type} message arrived as a request`);
      return encodeAnswer(this.entries.get(m.node)?.wire);
    } catch (err) {
      this.dropped(err);
      return undefined;
    }
  }

  /**
   * Our side of a push-pull: every version we hold, plus whole states (ours first, then most
   * recently changed) up to the byte budget; the peer fetches the rest from us or their nodes.
   */
  private localState(join: boolean): Uint8Array | undefined {
    const from = this.selfAddr();
    if (from === undefined || this.closed) return undefined;
    const digest: DigestEntry[] = [];
    for (const e of this.entries.values()) digest.push({ node: e.state.node, version: e.state.version });
    const budget = join ? this.tuning.joinPushPullBudgetBytes : this.tuning.pushPullBudgetBytes;
    const candidates = [...this.entries.values()]
      .filter((e) => e.live || e.state.node === this.self)
      .sort((a, b) => (a.state.node === this.self ? -1 : b.state.node === this.self ? 1 : b.updatedAtMs - a.updatedAtMs));
    const wires: Uint8Array[] = [];
    let used = 0;
    for (const e of candidates) {
      if (used + e.wire.length > budget) continue;
      wires.push(e.wire);
      used += e.wire.length;
    }
    return encodeState(from, digest, wires);
  }

  private mergeRemoteState(state: Uint8Array): void {
    if (this.closed) return;
    try {
      const m = decodeCatalogMessage(state);
      if (m.type !== 'state') throw new CatalogCodecError('type', `a ${m.type} message arrived as push-pull state`);
      for (const c of m.full) this.applyRemote(c);
      for (const d of m.digest) {
        if (d.node === this.self) {
          this.onSelfEcho(d.version);
          continue;
        }
        const have = this.entries.get(d.node)?.state.version;
        if (have !== undefined && compareVersions(d.version, have) <= 0) continue;
        if (this.memberGone(d.node)) continue;
        this.fetcher.want(d.node, d.version, [m.from, this.members?.member(d.node)?.addr]);
      }
    } catch (err) {
      this.dropped(err);
    }
  }

  // ---- membership ----

  private onMemberEvent(e: MemberEvent): void {
    const name = e.member.name;
    if (name === this.self || this.closed) return;
    switch (e.kind) {
      case 'join':
        this.setLive(name, true);
        this.scheduleJoinFetch(name);
        return;
      case 'alive':
      case 'suspect':
      case 'update':
        return this.setLive(name, true);
      case 'failed':
      case 'left':
        this.fetcher.cancel(name);
        return this.setLive(name, false);
      case 'reaped': {
        this.fetcher.cancel(name);
        const had = this.entries.get(name);
        this.entries.delete(name);
        if (had !== undefined && had.live) this.changed();
        return;
      }
    }
  }

  private setLive(name: string, live: boolean): void {
    const e = this.entries.get(name);
    if (e === undefined || e.live === live) return;
    e.live = live;
    this.changed();
  }

  /**
   * A member joined (first time, or back from failed/left). It broadcasts its state itself; if that
   * did not reach us within joinFetchDelayMs (we have nothing, or only what it had before), ask it.
   */
  private scheduleJoinFetch(name: string): void {
    const joinedAt = this.clock.now();
    const t = this.clock.setTimer(this.tuning.joinFetchDelayMs, () => {
      this.timers.delete(t);
      const e = this.entries.get(name);
      const m = this.members?.member(name);
      if (m === undefined || !isLiveState(m.state) || (e !== undefined && e.updatedAtMs >= joinedAt)) return;
      this.fetchFrom(name, m.addr).catch(() => { this.counters.fetchesFailed++; });
    });
    this.timers.add(t);
  }

  /** Drops states of nodes gossip does not know (stale rumours about reaped members). */
  private sweepUnknown(): void {
    const now = this.clock.now();
    for (const [name, e] of this.entries) {
      if (name === this.self || this.members?.member(name) !== undefined) continue;
      if (now - e.updatedAtMs > this.tuning.unknownMemberGraceMs) this.entries.delete(name);
    }
  }

  private memberLive(name: string): boolean {
    const m = this.members?.member(name);
    return m !== undefined && isLiveState(m.state);
  }

  /** Gossip holds the member failed or left: not worth fetching for. */
  private memberGone(name: string): boolean {
    const s = this.members?.member(name)?.state;
    return s === 'dead' || s === 'left';
  }

  private visible(e: Entry): boolean {
    return e.state.node === this.self || e.live;
  }

  private selfAddr(): string | undefined {
    try {
      return this.members?.localMember().addr;
    } catch {
      return undefined; // the pool has not started
    }
  }

  // ---- index and queries ----

  private changed(): void {
    this.idx++;
    this.query = undefined;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.log.warn({ err: errorText(err) }, 'catalog subscriber failed');
      }
    }
  }

  private queryIndex(): QueryIndex {
    if (this.query === undefined) {
      const views: NodeView[] = [];
      for (const e of this.entries.values()) if (this.visible(e)) views.push(e.view);
      this.query = new QueryIndex(views);
    }
    return this.query;
  }

  private every(ms: number, fn: () => void): void {
    const run = (): void => {
      this.timers.delete(t);
      if (this.closed) return;
      fn();
      t = this.clock.setTimer(ms, run);
      this.timers.add(t);
    };
    let t = this.clock.setTimer(ms, run);
    this.timers.add(t);
  }

  private dropped(err: unknown): void {
    const reason: CatalogDropReason = err instanceof CatalogCodecError ? err.reason : 'shape';
    this.counters.dropped[reason]++;
    const suppressed = this.badInput.admit(reason);
    if (suppressed >= 0) this.log.debug({ reason, suppressed, detail: errorText(err) }, 'dropped catalog input');
  }
}

function isLiveState(s: string): boolean {
  return s === 'alive' || s === 'suspect';
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export {
  type CatalogMembership, type CatalogMux, type CatalogStats, type CatalogTuning, defaultCatalogTuning, type LocalSnapshot,
  type ReplicatedCatalogOptions,
} from './replicated-options';
