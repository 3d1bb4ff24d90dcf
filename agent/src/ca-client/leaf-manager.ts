/**
 * The agent's leaves: one for the agent itself and one for each local service that needs one (every
 * service with a sidecar, and services whose leaf was asked for over the HTTP API). Keys are made
 * here and never leave the agent; only CSRs go to a CA server.
 *
 * Each leaf is renewed at a random point between 60% and 90% of its lifetime (renewal.ts), earlier
 * when a root rotation asks for a reissue (`reissueNotUnder`), and retried with backoff when the CA
 * cannot be reached. Leaves are cached on disk (leaf-cache.ts) and served from the cache after a
 * restart while still valid; an expired leaf is never served. Subscribers hear of every change.
 *
 * Node timers cannot wait longer than 2^31-1 ms (24.8 days) and a leaf may live a year, so timers
 * are capped at one hour and simply re-armed until the renewal time comes.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { CaErrorCode, createCsr, exportKeyPem, generateKeyPair, spiffeId, type Identity, type SignResponse } from '../../../ca/src';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import { backoffMs, type BackoffPolicy } from './backoff';
import { LeafCache, type CachedLeaf } from './leaf-cache';
import { renewAtMs, servable } from './renewal';
import { sanUris } from './intermediate-transfer';

/** Asks the CA to sign `csrPem` for `identity`. */
export type LeafIssuer = (identity: Identity, csrPem: string, ttlMs: number) => Promise<SignResponse>;

/** A leaf as consumers use it. */
export interface IssuedLeaf extends CachedLeaf {
  identity: Identity;
  /** This manager's change sequence when the leaf was set (blocking-query index). */
  modifyIndex: number;
}

/** What changed: the leaf of `spiffeId` is now `leaf` (undefined: gone). */
export interface LeafChange {
  spiffeId: string;
  identity: Identity;
  leaf: IssuedLeaf | undefined;
}

/** Options of LeafManager. */
export interface LeafManagerOptions {
  nodeName: string;
  datacenter: string;
  trustDomain: string;
  /** Namespace of service identities: "default" (Shoal has one). */
  namespace?: string;
  /** Enables the disk cache. */
  dataDir?: string;
  leafTtlMs: number;
  issue: LeafIssuer;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Retry delays after a failed issuance: 1 s growing to 60 s, full jitter. */
  retry?: BackoffPolicy;
}

/** Quick retries of a service leaf refused while the servers' catalog catches up (see retryPolicy). */
const CATALOG_LAG_RETRIES = 8;
const CATALOG_LAG_POLICY: BackoffPolicy = { baseMs: 250, capMs: 4000, floorMs: 200 };

/** Longest single timer: 1 h (see the module comment). */
const MAX_TIMER_MS = 3_600_000;

interface Entry {
  identity: Identity;
  spiffeId: string;
  leaf: IssuedLeaf | undefined;
  /** Wall ms of the next renewal. */
  dueMs: number;
  timer: TimerHandle | undefined;
  inflight: Promise<IssuedLeaf> | undefined;
  failures: number;
  lastError: string | undefined;
  /** Root a reissue was already scheduled for (so repeated calls do not redraw the delay). */
  reissueFor: string | undefined;
}

/** Keeps this agent's leaves issued, fresh, cached and announced. */
export class LeafManager {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(c: LeafChange) => void>();
  private readonly cache: LeafCache | undefined;
  private readonly agentId: Identity;
  private readonly retry: BackoffPolicy;
  private seq = 1;
  private stopped = false;

  constructor(private readonly o: LeafManagerOptions) {
    this.cache = o.dataDir === undefined ? undefined : new LeafCache(o.dataDir);
    this.agentId = { kind: 'agent', trustDomain: o.trustDomain, datacenter: o.datacenter, node: o.nodeName };
    this.retry = o.retry ?? { baseMs: 1000, capMs: 60_000, floorMs: 500 };
  }

  /** The agent's own identity. */
  get agentIdentity(): Identity {
    return this.agentId;
  }

  /** The identity of a local service. */
  serviceIdentity(service: string): Identity {
    return { kind: 'service', trustDomain: this.o.trustDomain, namespace: this.o.namespace ?? 'default', datacenter: this.o.datacenter, service };
  }

  /** Starts managing the agent's leaf (cached copy first); resolves once it is loaded, not issued. */
  async start(): Promise<void> {
    await this.track(this.agentId);
  }

  /** Sets the services that need leaves: new ones are loaded or issued, removed ones dropped. */
  async setServices(names: readonly string[]): Promise<void> {
    const want = new Set(names.map((n) => spiffeId(this.serviceIdentity(n))));
    const removed: Array<Promise<void>> = [];
    for (const [id, e] of this.entries) {
      if (e.identity.kind === 'service' && !want.has(id)) removed.push(this.untrack(e));
    }
    await Promise.all(removed);
    for (const n of names) await this.track(this.serviceIdentity(n));
  }

  /** The current leaf of the agent (no argument) or a service, if one may be served now. */
  leaf(service?: string): IssuedLeaf | undefined {
    const id = spiffeId(service === undefined ? this.agentId : this.serviceIdentity(service));
    const leaf = this.entries.get(id)?.leaf;
    return leaf !== undefined && servable(leaf.notBeforeMs, leaf.notAfterMs, this.o.clock.wallNow()) ? leaf : undefined;
  }

  /** Why the leaf of the agent or a service is missing, for error replies. */
  lastError(service?: string): string | undefined {
    return this.entries.get(spiffeId(service === undefined ? this.agentId : this.serviceIdentity(service)))?.lastError;
  }

  /** Waits up to `timeoutMs` for a servable leaf of a tracked identity (issuing it if needed). */
  async waitLeaf(service: string | undefined, timeoutMs: number): Promise<IssuedLeaf | undefined> {
    const have = this.leaf(service);
    if (have !== undefined) return have;
    const id = spiffeId(service === undefined ? this.agentId : this.serviceIdentity(service));
    const e = this.entries.get(id);
    if (e === undefined) return undefined;
    if (e.inflight === undefined) void this.issue(e).catch(() => {}); // failures are logged and retried by request()
    return new Promise((resolve) => {
      const done = (): void => {
        this.o.clock.clearTimer(timer);
        unsubscribe();
        resolve(this.leaf(service));
      };
      const unsubscribe = this.subscribe((c) => c.spiffeId === id && c.leaf !== undefined && done());
      const timer = this.o.clock.setTimer(timeoutMs, done);
    });
  }

  /** Renews every leaf now (operators and tests); resolves with the leaves that were issued. */
  async renewAll(): Promise<IssuedLeaf[]> {
    const out = await Promise.allSettled([...this.entries.values()].map((e) => this.issue(e)));
    return out.filter((r): r is PromiseFulfilledResult<IssuedLeaf> => r.status === 'fulfilled').map((r) => r.value);
  }

  /**
   * Root rotation step 4: every leaf not issued under `rootId` is reissued at a uniformly random time
   * within `windowMs` from now (unless already due sooner).
   */
  reissueNotUnder(rootId: string, windowMs: number): number {
    let n = 0;
    const now = this.o.clock.wallNow();
    for (const e of this.entries.values()) {
      if (e.leaf === undefined || e.leaf.rootId === rootId || e.inflight !== undefined || e.reissueFor === rootId) continue;
      e.reissueFor = rootId;
      const at = now + this.o.random.float() * Math.max(0, windowMs);
      if (at < e.dueMs) this.schedule(e, at);
      n++;
    }
    return n;
  }

  /** The root every current leaf chains to, or '' when there is none or they differ (`ca_leaves`). */
  leavesRootId(): string {
    let root: string | undefined;
    for (const e of this.entries.values()) {
      const r = e.leaf?.rootId;
      if (r === undefined) return '';
      if (root !== undefined && root !== r) return '';
      root = r;
    }
    return root ?? '';
  }

  /** Every tracked leaf (servable or not), for metrics and status. */
  leaves(): IssuedLeaf[] {
    return [...this.entries.values()].map((e) => e.leaf).filter((l): l is IssuedLeaf => l !== undefined);
  }

  /** True while a request is in flight (tests on a virtual clock wait for it in real time). */
  busy(): boolean {
    for (const e of this.entries.values()) if (e.inflight !== undefined) return true;
    return false;
  }

  /** Monotonic change counter. */
  index(): number {
    return this.seq;
  }

  /** Calls `fn` after every leaf change; returns the unsubscribe function. */
  subscribe(fn: (c: LeafChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Cancels timers; in-flight requests finish but change nothing. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.o.clock.clearTimer(e.timer);
  }

  // ---- internals ----

  private async track(identity: Identity): Promise<void> {
    const id = spiffeId(identity);
    if (this.entries.has(id) || this.stopped) return;
    const e: Entry = { identity, spiffeId: id, leaf: undefined, dueMs: 0, timer: undefined, inflight: undefined, failures: 0, lastError: undefined, reissueFor: undefined };
    this.entries.set(id, e);
    const cached = await this.cache?.read(identity, id, this.o.clock.wallNow());
    if (this.entries.get(id) !== e) return;
    if (cached !== undefined && e.leaf === undefined) {
      this.set(e, cached);
      this.o.logger.info({ identity: id, notAfterMs: cached.notAfterMs }, 'serving cached leaf');
    } else if (e.leaf === undefined) {
      this.schedule(e, this.o.clock.wallNow());
    }
  }

  private async untrack(e: Entry): Promise<void> {
    this.o.clock.clearTimer(e.timer);
    this.entries.delete(e.spiffeId);
    this.seq++;
    this.emit({ spiffeId: e.spiffeId, identity: e.identity, leaf: undefined });
    await this.cache?.remove(e.identity).catch(() => {});
  }

  /** Issues a leaf now (one request at a time per identity). */
  private issue(e: Entry): Promise<IssuedLeaf> {
    e.inflight ??= this.request(e).finally(() => { e.inflight = undefined; });
    return e.inflight;
  }

  private async request(e: Entry): Promise<IssuedLeaf> {
    this.o.clock.clearTimer(e.timer);
    e.timer = undefined;
    try {
      const keys = await generateKeyPair();
      const keyPem = await exportKeyPem(keys.privateKey);
      const csrPem = await createCsr({ identity: e.identity, keys });
      const res = await this.o.issue(e.identity, csrPem, this.o.leafTtlMs);
      checkResponse(res, e.spiffeId, keyPem, this.o.clock.wallNow());
      if (this.stopped || this.entries.get(e.spiffeId) !== e) throw new Error('no longer wanted');
      const leaf = this.set(e, { ...res, spiffeId: e.spiffeId, keyPem });
      e.failures = 0;
      e.lastError = undefined;
      await this.cache?.write(e.identity, leaf).catch((err: unknown) => this.o.logger.warn({ identity: e.spiffeId, err: (err as Error).message }, 'could not cache leaf'));
      // Dropped while the file was being written: do not leave its key behind.
      if (this.entries.get(e.spiffeId) !== e) await this.cache?.remove(e.identity).catch(() => {});
      return leaf;
    } catch (err) {
      if (!this.stopped && this.entries.get(e.spiffeId) === e) {
        e.failures++;
        e.lastError = (err as Error).message;
        const delay = backoffMs(e.failures, this.o.random, this.retryPolicy(e, err));
        this.o.logger.warn({ identity: e.spiffeId, err: e.lastError, code: (err as { code?: string }).code, retryInMs: Math.round(delay) }, 'leaf request failed');
        this.schedule(e, this.o.clock.wallNow() + delay);
      }
      throw err;
    }
  }

  /**
   * Retry delays after a failure. A service leaf refused as "not registered" just after the service
   * was registered here is the servers' catalog replica lagging ours (well under a second on a
   * healthy cluster): the first few retries come quickly (0.25 s growing to 4 s) rather than on the
   * general policy, which could put a new sidecar seconds behind. Past those, the general policy.
   */
  private retryPolicy(e: Entry, err: unknown): BackoffPolicy {
    const forbidden = (err as { code?: string }).code === CaErrorCode.forbidden;
    if (forbidden && e.identity.kind === 'service' && e.failures <= CATALOG_LAG_RETRIES) return CATALOG_LAG_POLICY;
    return this.retry;
  }

  /** Installs a leaf, schedules its renewal and tells subscribers. */
  private set(e: Entry, c: CachedLeaf): IssuedLeaf {
    const leaf: IssuedLeaf = { ...c, identity: e.identity, modifyIndex: ++this.seq };
    e.leaf = leaf;
    e.reissueFor = undefined;
    this.schedule(e, renewAtMs(leaf.notBeforeMs, leaf.notAfterMs, this.o.random));
    this.emit({ spiffeId: e.spiffeId, identity: e.identity, leaf });
    return leaf;
  }

  /** Arms the renewal timer for wall time `atMs` (re-armed in steps of at most an hour). */
  private schedule(e: Entry, atMs: number): void {
    if (this.stopped) return;
    e.dueMs = atMs;
    this.o.clock.clearTimer(e.timer);
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, atMs - this.o.clock.wallNow()));
    e.timer = this.o.clock.setTimer(wait, () => {
      e.timer = undefined;
      if (this.o.clock.wallNow() + 1 < e.dueMs) return this.schedule(e, e.dueMs);
      void this.issue(e).catch(() => {});
    });
  }

  private emit(c: LeafChange): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'leaf subscriber failed');
      }
    }
  }
}

/** A response must carry a leaf for our key and identity that is valid now. */
function checkResponse(res: SignResponse, id: string, keyPem: string, nowMs: number): void {
  const cert = new X509Certificate(res.certPem);
  if (!sanUris(cert).includes(id)) throw new Error(`the CA returned a certificate for ${sanUris(cert).join(',')}, not ${id}`);
  const ours = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  if (!ours.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) throw new Error('the CA returned a certificate for another key');
  if (!(nowMs < res.notAfterMs)) throw new Error('the CA returned an expired certificate');
}
