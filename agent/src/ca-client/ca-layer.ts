/**
 * The agent's CA layer: wires the trust bundle (gossip channel 3), the leaf manager, the CA client
 * (clients) or the CA server role (servers), the rotation coordinator (servers) and the views the HTTP
 * API serves. The agent calls `prepare` before its LAN pool starts, `attach` as the pool is built,
 * `start` once the pool runs, and `stop` on shutdown. Consumers (the data plane, proxy/data-plane.ts)
 * `subscribe` to leaf and bundle changes and read `leafFor` and `trustPems` on each change, so
 * certificates swap for new connections without a restart.
 *
 * Servers sign their own leaves locally; clients ask a live server, first with the bootstrap token
 * (agent leaf), then over mTLS with that leaf.
 */
import { promises as fs } from 'node:fs';
import {
  CaError, CaErrorCode, CaGrpcClient, certInfo, parseSpiffeId, spiffeId, validateSegment, type CaMaterial, type Identity, type SignAuth,
  type SignResponse,
} from '../../../ca/src';
import type { CatalogReader, LocalServices } from '../catalog/types';
import type { CaConfig, IntentionPolicy } from '../config';
import type { ConfigEntries } from '../config-entries';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import type { GossipMux } from '../agent/gossip-mux';
import type { Member } from '../gossip/member';
import { ACTIVE_KEY, intermediateKey, rootKey } from './bundle-record';
import { CaMetrics } from './ca-metrics';
import { caServers, caTags, memberCaView, tagRootId } from './ca-tags';
import { fetchIntermediate, mustStage, mustSwitch, reissuePlan, switchToStaged } from './rotation-follower';
import { chooseChain, verificationPems } from './chain';
import { leafView, rootsView, type LeafView, type RootsView } from './connect-views';
import { CaClientError, CaClientErrorCode } from './errors';
import { authorize, type AuthorizeResult } from './intentions';
import { LeafManager, type IssuedLeaf } from './leaf-manager';
import type { RotationState } from './rotation';
import { caStatus, RotationCoordinator, type CaStatus, type RotateRequest, type RotateResult } from './rotation-coordinator';
import { catalogAuthorizer, CaServerRole } from './server-role';
import { SignClient, type SignTransport } from './sign-client';
import { chooseSigner, devMaterial, firstCert, readConfiguredSigner, readPersistedSigner, type SignerMaterial } from './signer-material';
import { TrustBundleStore } from './trust-bundle';
import type { Registry } from 'prom-client';

/** A change consumers hear about. */
export type CaChange = { kind: 'leaf'; spiffeId: string } | { kind: 'bundle' };

/** The gossip pool as the CA layer reads it. */
export interface CaMembership {
  members(): Member[];
  localMember(): Member;
}

/** Options of CaLayer. */
export interface CaLayerOptions {
  config: CaConfig;
  dev: boolean;
  server: boolean;
  nodeName: string;
  datacenter: string;
  dataDir: string | undefined;
  /** Host the CA gRPC server binds (the agent's bind address) and its port (`ports.grpc`, 0 = any). */
  grpcHost: string;
  grpcPort: number;
  defaultIntentionPolicy: IntentionPolicy;
  local: LocalServices;
  catalog: () => CatalogReader | undefined;
  configEntries: ConfigEntries;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Registers the CA metrics here. */
  registry?: Registry;
  /** One call to one CA server; default gRPC. Simulations pass an in-memory one (and no gRPC server starts). */
  transport?: SignTransport;
  /** Called when the CA gossip tags changed (the agent merges them into its tags). */
  onTagsChanged?: () => void;
  tuning?: CaTuning;
}

/** Timings, mostly for tests. */
export interface CaTuning {
  /** Reconcile (rotation follow-up, tags, TLS) every 2 s besides on changes. */
  reconcileMs?: number;
  /** Rotation coordinator tick: 1 s. */
  rotationTickMs?: number;
  /** Smallest computed reissue window: 30 s. */
  minReissueWindowMs?: number;
  /** Reissue window outside a rotation (a leaf under a root that is not active): 10 s. */
  strayReissueWindowMs?: number;
  /** How long the leaf endpoint waits for a first leaf: 30 s. */
  leafWaitMs?: number;
}

/** The agent's CA. */
export class CaLayer {
  readonly bundle: TrustBundleStore;
  readonly leaves: LeafManager;
  server: CaServerRole | undefined;
  coordinator: RotationCoordinator | undefined;
  private readonly log: Logger;
  private readonly metrics: CaMetrics | undefined;
  private readonly listeners = new Set<(c: CaChange) => void>();
  private readonly requested = new Set<string>();
  private readonly akiCache = new Map<string, string>();
  private readonly grpc: CaGrpcClient | undefined;
  private readonly client: SignClient;
  private membership: CaMembership | undefined;
  private bootstrapToken: string | undefined;
  private rootFilePem: string | undefined;
  private devRoot: CaMaterial | undefined;
  private lastTags = '';
  private lastTls = '';
  private fetching = false;
  private timer: TimerHandle | undefined;
  private unsubscribers: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly o: CaLayerOptions) {
    this.log = o.logger.child({ component: 'ca' });
    const c = o.config;
    this.bundle = new TrustBundleStore({
      nodeName: o.nodeName, trustDomain: c.trustDomain, dataDir: o.dataDir, clock: o.clock, logger: this.log,
      extraRequest: async (m) => (m.t === 'fetch-intermediate' ? this.server?.answerFetch(m, (n) => this.isLiveServer(n)) : undefined),
    });
    this.metrics = o.registry === undefined ? undefined : new CaMetrics(o.registry, {
      leaves: () => this.leaves.leaves().map((l) => ({ identity: l.spiffeId, notAfterMs: l.notAfterMs })), wallNow: () => o.clock.wallNow(),
    });
    this.grpc = o.transport === undefined ? new CaGrpcClient({ clock: o.clock }) : undefined;
    const transport: SignTransport = o.transport ?? ((addr, req, auth, timeoutMs) => this.grpc!.sign(addr, req, auth, timeoutMs));
    this.client = new SignClient({
      servers: () => caServers(this.membership?.members() ?? []), transport, clock: o.clock, random: o.random, logger: this.log, metrics: this.metrics?.client,
    });
    this.leaves = new LeafManager({
      nodeName: o.nodeName, datacenter: o.datacenter, trustDomain: c.trustDomain, dataDir: o.dataDir, leafTtlMs: c.leafTtlMs,
      issue: (id, csr, ttl) => this.issue(id, csr, ttl), clock: o.clock, random: o.random, logger: this.log,
    });
  }

  // ---- lifecycle ----

  /** Reads the token, root and signer material and the persisted bundle; call before the LAN pool starts. */
  async prepare(): Promise<void> {
    const c = this.o.config;
    this.bootstrapToken = c.bootstrapToken ?? (c.bootstrapTokenFile === undefined ? undefined : await readToken(c.bootstrapTokenFile));
    if (c.rootCertFile !== undefined) this.rootFilePem = firstCert(await readText(c.rootCertFile, 'ca.root_cert_file'));
    await this.bundle.load();
    const seeds: Array<{ key: string; value: import('./bundle-record').BundleValue }> = [];
    const seedRoot = (pem: string): void => {
      const id = certInfo(pem).skiHex;
      seeds.push({ key: rootKey(id), value: { type: 'root', pem } }, { key: ACTIVE_KEY, value: { type: 'active', rootId: id } });
    };
    if (this.rootFilePem !== undefined) seedRoot(this.rootFilePem);
    if (this.o.server) {
      const signer = await this.chooseInitialSigner();
      if (this.devRoot !== undefined) seedRoot(this.devRoot.certPem);
      const info = certInfo(signer.certPem);
      seeds.push({ key: intermediateKey(this.o.datacenter, info.skiHex, info.akiHex), value: { type: 'intermediate', datacenter: this.o.datacenter, pem: signer.certPem } });
      this.server = new CaServerRole({
        nodeName: this.o.nodeName, datacenter: this.o.datacenter, trustDomain: c.trustDomain, dataDir: this.o.dataDir,
        grpc: this.o.transport === undefined ? { host: this.o.grpcHost, port: this.o.grpcPort } : undefined,
        bootstrapToken: this.bootstrapToken, rateLimit: { ratePerSec: c.signRatePerSec, burst: c.signBurst }, leafTtlMs: c.leafTtlMs,
        bundle: this.bundle, clock: this.o.clock, logger: this.o.logger, metrics: this.metrics?.server, onSwitched: () => this.reconcile(),
      }, signer, catalogAuthorizer(this.o.catalog, this.o.datacenter));
    }
    this.bundle.seed(seeds);
  }

  /** Registers the bundle's gossip channel; call as the LAN pool is built, before it starts. */
  attach(mux: Pick<GossipMux, 'register' | 'broadcast' | 'request'>, membership: CaMembership): void {
    this.membership = membership;
    this.bundle.attach(mux, membership);
  }

  /** Servers: shares roots and intermediates with other clusters' servers on the WAN pool; call before it starts. */
  attachWan(mux: Pick<GossipMux, 'register' | 'broadcast' | 'request'>, membership: { localMember(): Member }): void {
    this.bundle.attachWan(mux, membership);
  }

  /** Starts leaves, the CA server (servers) and the rotation coordinator; call once the LAN pool runs. */
  async start(): Promise<void> {
    await this.leaves.start();
    this.unsubscribers.push(
      this.leaves.subscribe((ch) => { this.emit({ kind: 'leaf', spiffeId: ch.spiffeId }); this.reconcile(); }),
      this.bundle.subscribe(() => { this.emit({ kind: 'bundle' }); this.reconcile(); }),
      this.o.local.subscribe(() => void this.syncServices().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not update service leaves'))),
    );
    await this.syncServices();
    if (this.server !== undefined) {
      const leaf = await this.leaves.waitLeaf(undefined, 10_000);
      if (leaf === undefined) throw new Error(`the CA server could not sign its own agent certificate: ${this.leaves.lastError() ?? 'timed out'}`);
      await this.server.start(this.serverTls(leaf));
      this.coordinator = new RotationCoordinator({
        nodeName: this.o.nodeName, datacenter: this.o.datacenter, trustDomain: this.o.config.trustDomain, dataDir: this.o.dataDir,
        bundle: this.bundle, server: this.server, members: () => this.membership?.members() ?? [], ratePerSec: this.o.config.signRatePerSec,
        leavesEstimate: () => this.leavesEstimate(), devRoot: () => this.devRoot, clock: this.o.clock, logger: this.log,
        tickMs: this.o.tuning?.rotationTickMs, minReissueWindowMs: this.o.tuning?.minReissueWindowMs,
      });
      await this.coordinator.start();
    }
    this.reconcile();
    this.scheduleReconcile();
  }

  /** Stops timers, the CA server and channels; writes the bundle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
    for (const u of this.unsubscribers) u();
    this.coordinator?.stop();
    this.leaves.stop();
    await this.server?.stop();
    this.grpc?.close();
    await this.bundle.close().catch(() => {});
  }

  // ---- what the agent and consumers read ----

  /** The CA gossip tags (merged into the agent's tags). */
  tags(): Record<string, string> {
    return caTags({
      grpcPort: this.server?.port, signerRootId: this.server?.rootId, trustedRootIds: this.bundle.rootIds(), leavesRootId: this.leaves.leavesRootId(),
    });
  }

  /** Bound port of the CA gRPC server (servers). */
  get grpcPort(): number | undefined {
    return this.server?.port;
  }

  /** Hears about every leaf and bundle change; returns the unsubscribe function. */
  subscribe(fn: (c: CaChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Root PEMs to verify peers with. */
  trustPems(): string[] {
    return this.bundle.rootPems();
  }

  /** The current leaf of the agent (no argument) or a local service, with the chain to present; undefined if none may be served. */
  leafFor(service?: string): LeafView | undefined {
    const leaf = this.leaves.leaf(service);
    return leaf === undefined ? undefined : leafView(leaf, this.chainOf(leaf), this.agentRef());
  }

  // ---- the HTTP API (routes-connect.ts) ----

  rootsIndex(): number {
    return this.bundle.index();
  }

  subscribeRoots(fn: () => void): () => void {
    return this.bundle.subscribe(fn);
  }

  roots(): RootsView {
    return rootsView(this.bundle.view());
  }

  /** Throws 403 unless `service` is registered on this agent. */
  assertLocal(service: string): void {
    if (!this.localNames().has(service)) {
      throw new CaClientError(CaClientErrorCode.serviceNotLocal,
        `service ${JSON.stringify(service)} is not registered on this agent (node ${this.o.nodeName}); leaves are issued only for services registered on the agent that asks`, 403);
    }
  }

  /** Waits (up to the leaf wait) for the leaf of a local service, issuing it if needed. */
  async serviceLeaf(service: string): Promise<LeafView> {
    this.assertLocal(service);
    try {
      validateSegment('service name', service);
    } catch (err) {
      throw new CaClientError(CaClientErrorCode.badRequest, (err as Error).message, 400);
    }
    if (!this.requested.has(service)) {
      this.requested.add(service);
      await this.syncServices();
    }
    const leaf = await this.leaves.waitLeaf(service, this.o.tuning?.leafWaitMs ?? 30_000);
    if (leaf === undefined) {
      throw new CaClientError(CaClientErrorCode.leafUnavailable, `no certificate for ${service} yet: ${this.leaves.lastError(service) ?? 'the CA did not answer in time'}`, 503);
    }
    return leafView(leaf, this.chainOf(leaf), this.agentRef());
  }

  /** Index of a service leaf for blocking queries: its own changes plus bundle changes (chains follow the bundle). */
  leafIndex(service: string): number {
    return (this.leaves.leaf(service)?.modifyIndex ?? 0) + this.bundle.index();
  }

  /** Decides `POST /v1/agent/connect/authorize`. */
  authorize(target: string, clientCertUri: string): AuthorizeResult {
    let id: Identity;
    try {
      id = parseSpiffeId(clientCertUri);
    } catch (err) {
      throw new CaClientError(CaClientErrorCode.badRequest, `ClientCertURI: ${(err as Error).message}`, 400);
    }
    if (id.kind !== 'service') return { authorized: false, reason: `${clientCertUri} is an agent identity, not a service` };
    const entries = this.o.configEntries.list('service-intentions').map((s) => s.entry);
    return authorize(entries, {
      target, caller: { trustDomain: id.trustDomain, namespace: id.namespace, service: id.service },
      trustDomain: this.o.config.trustDomain, defaultPolicy: this.o.defaultIntentionPolicy,
    });
  }

  /** Renews every leaf now; resolves with their new serials. */
  async renewAll(): Promise<Array<{ spiffeId: string; serialHex: string; notAfterMs: number }>> {
    return (await this.leaves.renewAll()).map((l) => ({ spiffeId: l.spiffeId, serialHex: l.serialHex, notAfterMs: l.notAfterMs }));
  }

  rotate(req: RotateRequest): Promise<RotateResult> {
    return this.requireCoordinator().rotate(req);
  }

  advanceRotation(): Promise<RotationState> {
    return this.requireCoordinator().advance();
  }

  status(): CaStatus {
    return caStatus(this.bundle, this.membership?.members() ?? [], this.o.datacenter, this.o.clock.wallNow());
  }

  // ---- internals ----

  /** Signs one of this agent's CSRs: locally on servers, through a CA server on clients. */
  private async issue(identity: Identity, csrPem: string, ttlMs: number): Promise<SignResponse> {
    if (this.server !== undefined) return this.server.signOwn(csrPem, identity, ttlMs);
    const preferRoot = tagRootId(this.bundle.view().activeRootId);
    if (identity.kind === 'service' && this.leaves.leaf() === undefined) {
      if ((await this.leaves.waitLeaf(undefined, 30_000)) === undefined) throw new Error('no agent certificate yet, needed to ask for service certificates');
    }
    try {
      return await this.client.sign({ csrPem, ttlMs }, () => this.auth(identity, false), preferRoot);
    } catch (err) {
      // An agent certificate the servers no longer accept (expired while the agent was down, or its root dropped): bootstrap again.
      const retry = identity.kind === 'agent' && this.bootstrapToken !== undefined && err instanceof CaError && err.code === CaErrorCode.unauthenticated;
      if (!retry) throw err;
      return this.client.sign({ csrPem, ttlMs }, () => this.auth(identity, true), preferRoot);
    }
  }

  /** Credentials for a call: the agent leaf (mTLS) when there is one, else the bootstrap token (agent leaf only). */
  private auth(identity: Identity, forceBootstrap: boolean): SignAuth {
    const view = this.bundle.view();
    const caPems = view.roots.length > 0 ? verificationPems(view) : this.rootFilePem !== undefined ? [this.rootFilePem] : [];
    const base = { caPems, trustDomain: this.o.config.trustDomain, datacenter: this.o.datacenter };
    const agent = forceBootstrap ? undefined : this.leaves.leaf();
    if (agent !== undefined) {
      return { ...base, clientCertPem: [agent.certPem, ...this.chainOf(agent)].join(''), clientKeyPem: agent.keyPem };
    }
    if (identity.kind !== 'agent') throw new Error('no agent certificate to authenticate with');
    if (this.bootstrapToken === undefined) throw new Error('no bootstrap token configured (ca.bootstrap_token or ca.bootstrap_token_file)');
    return { ...base, bootstrapToken: this.bootstrapToken };
  }

  /** Dev material, or the persisted / configured intermediate chosen against the bundle. */
  private async chooseInitialSigner(): Promise<SignerMaterial> {
    const c = this.o.config;
    if (this.o.dev && c.intermediateCertFile === undefined) {
      const dev = await devMaterial(c.trustDomain, this.o.datacenter, this.o.clock);
      this.devRoot = dev.root;
      return dev.signer;
    }
    const candidates: SignerMaterial[] = [];
    if (c.intermediateCertFile !== undefined && c.intermediateKeyFile !== undefined) candidates.push(await readConfiguredSigner(c.intermediateCertFile, c.intermediateKeyFile));
    const persisted = this.o.dataDir === undefined ? undefined : await readPersistedSigner(this.o.dataDir);
    if (persisted !== undefined) candidates.push(persisted);
    const view = this.bundle.view();
    const chosen = chooseSigner(candidates, view.roots.map((r) => r.id), view.activeRootId, this.o.clock.wallNow());
    if (chosen === undefined) throw new Error('no valid intermediate to sign with (check ca.intermediate_cert_file: expired?)');
    return chosen;
  }

  /** Everything that follows a change: tags, the CA server's TLS, rotation follow-ups. */
  private reconcile(): void {
    if (this.stopped) return;
    this.followReissue();
    void this.coordinator?.watch().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not take the root rotation over'));
    void this.followSignerSwitch().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not follow the signer switch'));
    const leaf = this.leaves.leaf();
    if (this.server !== undefined && leaf !== undefined) {
      const tls = this.serverTls(leaf);
      const key = `${leaf.serialHex}|${tls.certPem.length}|${tls.caPems.join('')}`;
      if (key !== this.lastTls) {
        this.lastTls = key;
        this.server.updateTls(tls);
      }
    }
    const tags = JSON.stringify(this.tags());
    if (tags !== this.lastTags) {
      this.lastTags = tags;
      this.o.onTagsChanged?.();
    }
  }

  private scheduleReconcile(): void {
    this.timer = this.o.clock.setTimer(this.o.tuning?.reconcileMs ?? 2000, () => {
      this.reconcile();
      if (!this.stopped) this.scheduleReconcile();
    });
  }

  /** Root rotation step 4 on this agent, and any leaf left under a root that is not active. */
  private followReissue(): void {
    const plan = reissuePlan(this.bundle.view(), this.bundle.rotation(this.o.datacenter), this.o.tuning?.strayReissueWindowMs ?? 10_000);
    if (plan !== undefined) this.leaves.reissueNotUnder(plan.rootId, plan.windowMs);
  }

  /** Root rotation steps 1-3 on a server that does not coordinate it (or took it over without the material): stage early, switch at step 3. */
  private async followSignerSwitch(): Promise<void> {
    const server = this.server;
    const st = this.bundle.rotation(this.o.datacenter);
    const agent = this.leaves.leaf();
    if (server === undefined || st === undefined || this.fetching || agent === undefined) return;
    if (this.coordinator?.current?.id === st.id && this.coordinator.holdsMaterial) return; // the coordinator stages and switches itself
    const stageOnly = mustStage(server, st);
    if (!stageOnly && !mustSwitch(server, st)) return;
    this.fetching = true;
    try {
      if (!stageOnly && (await switchToStaged(server, this.bundle, st))) return;
      await fetchIntermediate({
        st, server, bundle: this.bundle, agent, agentChain: this.chainOf(agent), members: this.membership?.members() ?? [], self: this.o.nodeName, logger: this.log,
        stageOnly,
      });
    } finally {
      this.fetching = false;
    }
  }

  /** Service names that need leaves: sidecar destinations, and local services whose leaf was asked for. */
  private async syncServices(): Promise<void> {
    const names = new Set<string>();
    const local = this.localNames();
    for (const s of this.o.local.services()) {
      if (s.kind !== 'connect-proxy' || s.proxy === undefined) continue;
      try {
        validateSegment('service name', s.proxy.destinationServiceName);
        names.add(s.proxy.destinationServiceName);
      } catch (err) {
        this.log.warn({ service: s.proxy.destinationServiceName, err: (err as Error).message }, 'no leaf for a service whose name cannot be a SPIFFE ID');
      }
    }
    for (const r of this.requested) {
      if (local.has(r)) names.add(r);
      else this.requested.delete(r);
    }
    await this.leaves.setServices([...names].sort());
  }

  private localNames(): Set<string> {
    const out = new Set<string>();
    for (const s of this.o.local.services()) {
      out.add(s.name);
      if (s.kind === 'connect-proxy' && s.proxy !== undefined) out.add(s.proxy.destinationServiceName);
    }
    return out;
  }

  private chainOf(leaf: IssuedLeaf): string[] {
    let aki = this.akiCache.get(leaf.serialHex);
    if (aki === undefined) {
      aki = certInfo(leaf.certPem).akiHex;
      if (this.akiCache.size > 256) this.akiCache.clear();
      this.akiCache.set(leaf.serialHex, aki);
    }
    return chooseChain(aki, this.bundle.view(), this.o.datacenter, leaf.chainPem);
  }

  private serverTls(leaf: IssuedLeaf): { certPem: string; keyPem: string; caPems: string[] } {
    const view = this.bundle.view();
    return { certPem: [leaf.certPem, ...this.chainOf(leaf)].join(''), keyPem: leaf.keyPem, caPems: verificationPems(view) };
  }

  private leavesEstimate(): number {
    const nodes = this.o.catalog()?.nodes() ?? [];
    let n = Math.max(nodes.length, this.membership?.members().length ?? 0);
    for (const node of nodes) n += node.services.filter((s) => s.kind === 'connect-proxy').length;
    return n;
  }

  private isLiveServer(node: string): boolean {
    const m = this.membership?.members().find((x) => x.name === node);
    return m !== undefined && m.state === 'alive' && memberCaView(m).server && memberCaView(m).datacenter === this.o.datacenter;
  }

  private agentRef(): { node: string; uri: string } {
    return { node: this.o.nodeName, uri: spiffeId(this.leaves.agentIdentity) };
  }

  private requireCoordinator(): RotationCoordinator {
    if (this.coordinator === undefined) {
      throw new CaClientError(CaClientErrorCode.rotationRefused, `this agent (${this.o.nodeName}) is not a CA server; send rotation requests to a server agent`, 400);
    }
    return this.coordinator;
  }

  private emit(c: CaChange): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(c);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'CA subscriber failed');
      }
    }
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    const st = await fs.stat(path);
    if (st.size > 64 * 1024) throw new Error(`${st.size} bytes; at most 64 KiB expected`);
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    throw new CaClientError(CaClientErrorCode.disabled, `${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 500);
  }
}

/** Reads the bootstrap token file; the error names the file, never the contents. */
async function readToken(path: string): Promise<string> {
  const token = (await readText(path, 'ca.bootstrap_token_file')).trim();
  if (token.length < 16) throw new CaClientError(CaClientErrorCode.disabled, `ca.bootstrap_token_file ${path}: expected a token of at least 16 characters`, 500);
  return token;
}
