/**
 * `shoal agent`: the process around the gossip library. It owns the LAN pool (and the WAN pool on
 * servers), the persisted keyring, the HTTP API, metrics, joins and reload. Signals are the CLI's
 * business (several agents run in one process in tests); this class only offers start, shutdown,
 * leave and reload.
 *
 * Lifecycle: new -> starting -> running -> stopping -> stopped. `exited` resolves once stopped,
 * with the error that stopped it, if any (start failure, retry_join giving up).
 */
import { promises as fs } from 'node:fs';
import { cpus, networkInterfaces } from 'node:os';
import { join as joinPath } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { redactedConfig, type AgentConfig, type PortsConfig } from '../config';
import { systemClock, type Clock } from '../core/clock';
import { systemRandom, type Random } from '../core/random';
import type { GossipConfig } from '../gossip/config';
import type { Member } from '../gossip/member';
import { Memberlist, type JoinResult } from '../gossip/memberlist';
import {
  apiRoutes, HttpApiServer, type AgentApi, type AgentSelf, type KeyringOperation, type KeyringReport, type ReloadResult,
} from '../http';
import { isLoopback } from '../http/leaf-access';
import { AgentMetrics, registerServiceMetrics } from '../metrics';
import { DataPlane } from '../proxy/data-plane';
import { splitHostPort, TransportError } from '../transport/transport';
import { UdpTcpTransport } from '../transport/udp-tcp';
import type { AgentLifecycle } from '../systemd/lifecycle';
import { makeDevDataDir, loadNodeId, prepareDataDir } from './data-dir';
import { AgentError, AgentErrorCode } from './errors';
import { ClusterKeyring } from './keyring-cluster';
import { chooseKeyring, KeyringStore, LAN_KEYRING_FILE, toKeyring, WAN_KEYRING_FILE } from './keyring-store';
import { createLogger } from './logging';
import { pickAdvertiseAddr, resolveSeeds } from './network';
import { diffConfig, RELOADERS } from './reload';
import { RetryJoiner } from './retry-join';
import type { GossipMux } from './gossip-mux';
import { ServiceLayer } from './service-layer';
import { agentTags } from './tags';
import { REVISION, VERSION } from './version';

/** Options of Agent. */
export interface AgentOptions {
  config: AgentConfig;
  /** Re-reads configuration for reload (the CLI re-reads the same files and flags); default: no change. */
  reloadConfig?: () => Promise<AgentConfig>;
  /** Root logger; default: pino on stdout at the configured level. */
  logger?: PinoLogger;
  clock?: Clock;
  random?: Random;
  /** Include Node process metrics; default true. */
  processMetrics?: boolean;
  /** Told about readiness, retry_join attempts, reloads and stopping (systemd notification); default none. */
  lifecycle?: AgentLifecycle;
}

/** How the agent ended. */
export interface AgentExit {
  /** Set when a failure (not an operator request) stopped the agent. */
  error?: Error;
}

type PoolName = 'lan' | 'wan';

interface Pool {
  name: PoolName;
  memberlist: Memberlist;
  keyring: ClusterKeyring;
  /** Default port for seeds without one. */
  seedPort: number;
  joiner?: RetryJoiner;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** One Shoal agent. */
export class Agent implements AgentApi {
  /** Resolves when the agent has stopped. */
  readonly exited: Promise<AgentExit>;
  readonly metrics: AgentMetrics;
  private config: AgentConfig;
  private readonly log: PinoLogger;
  private readonly clock: Clock;
  private readonly random: Random;
  private state: State = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private leaving: Promise<void> | undefined;
  private resolveExit!: (exit: AgentExit) => void;
  private lan: Pool | undefined;
  private wan: Pool | undefined;
  private http: HttpApiServer | undefined;
  private services: ServiceLayer | undefined;
  private dataPlane: DataPlane | undefined;
  private dataDir = '';
  private removeDataDirOnExit = false;
  private nodeId = '';
  private ports: PortsConfig;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    this.ports = opts.config.ports;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.log = opts.logger ?? createLogger({ level: opts.config.logLevel, json: opts.config.logJson });
    this.metrics = new AgentMetrics({ processMetrics: opts.processMetrics, version: VERSION, revision: REVISION });
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** Starts everything; on failure undoes what was started and rethrows (the agent is then stopped). */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new Error(`agent cannot start: it is ${this.state}`));
    this.state = 'starting';
    this.starting = this.startAll().then(
      () => {
        this.state = 'running';
        this.opts.lifecycle?.started(this);
      },
      async (err: unknown) => {
        this.log.error({ err: (err as Error).message, code: (err as { code?: string }).code }, 'agent failed to start');
        await this.teardown();
        this.state = 'stopped';
        this.resolveExit({ error: err as Error });
        throw err;
      },
    );
    return this.starting;
  }

  /**
   * Stops the agent. With `leave` (the default) it first leaves every pool gracefully, so peers mark
   * it left rather than failed. Idempotent: later calls return the first call's promise.
   */
  shutdown(opts: { leave?: boolean; error?: Error } = {}): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => {});
      if (this.state === 'stopped') return;
      this.state = 'stopping';
      this.opts.lifecycle?.stopping();
      this.lan?.joiner?.stop();
      this.wan?.joiner?.stop();
      if (opts.leave !== false) await this.leave().catch((err: unknown) => this.log.warn({ err: String(err) }, 'leave failed'));
      await this.teardown();
      this.state = 'stopped';
      this.log.info({}, 'agent stopped');
      this.resolveExit(opts.error === undefined ? {} : { error: opts.error });
    })();
    return this.stopping;
  }

  /** Gracefully leaves every pool (WAN and LAN together); the agent keeps running until shutdown. */
  leave(): Promise<void> {
    this.leaving ??= (async () => {
      const pools = [this.wan, this.lan].filter((p): p is Pool => p !== undefined);
      if (pools.length === 0) return;
      this.opts.lifecycle?.stopping();
      this.log.info({}, 'leaving the cluster gracefully');
      await Promise.all(pools.map((p) => p.memberlist.leave()));
    })();
    return this.leaving;
  }

  /** Re-reads configuration and applies what can change at run time (now: log_level). */
  async reload(): Promise<ReloadResult> {
    this.opts.lifecycle?.reloading();
    try {
      return await this.applyReload();
    } finally {
      this.opts.lifecycle?.reloaded();
    }
  }

  private async applyReload(): Promise<ReloadResult> {
    const next = this.opts.reloadConfig === undefined ? this.config : await this.opts.reloadConfig();
    const { changed, restartRequired } = diffConfig(this.config, next);
    const applied: string[] = [];
    const updated: Record<string, unknown> = { ...this.config, sources: next.sources };
    for (const key of changed) {
      const reloader = RELOADERS.find((r) => r.key === key);
      if (reloader === undefined) continue;
      reloader.apply({ logger: this.log, services: this.services }, next);
      updated[reloader.field] = next[reloader.field];
      applied.push(key);
    }
    this.config = Object.freeze(updated) as unknown as AgentConfig;
    this.log.info({ applied, restartRequired }, 'configuration reloaded');
    if (restartRequired.length > 0) this.log.warn({ settings: restartRequired }, 'some changed settings take effect only after a restart');
    return { applied, restartRequired };
  }

  /** Joins a pool through `host[:port]` seeds (resolved by DNS; this node's own address is skipped). */
  async join(addrs: string[], wan: boolean): Promise<JoinResult> {
    const pool = this.pool(wan);
    const { addrs: resolved, errors } = await resolveSeeds(addrs, pool.seedPort);
    const self = pool.memberlist.localMember().addr;
    const targets = resolved.filter((a) => a !== self);
    if (targets.length < resolved.length) errors.push({ addr: self, error: 'this is our own address; skipped' });
    if (targets.length === 0) return { joined: 0, errors };
    const r = await pool.memberlist.join(targets);
    return { joined: r.joined, errors: [...errors, ...r.errors] };
  }

  /** The HTTP API's bound address (the real port when configured with 0). */
  httpAddress(): { host: string; port: number } {
    if (this.http === undefined) throw new AgentError(AgentErrorCode.notRunning, 'the HTTP API is not running', 503);
    return this.http.address();
  }

  /** Ports in use: the configured ones, with the real port where the configuration said 0. */
  get boundPorts(): PortsConfig {
    return this.ports;
  }

  /** The LAN memberlist (for embedding and tests). */
  get lanPool(): Memberlist | undefined {
    return this.lan?.memberlist;
  }

  /** The WAN memberlist on servers. */
  get wanPool(): Memberlist | undefined {
    return this.wan?.memberlist;
  }

  /** The data directory in use (a temporary one in dev mode). */
  get dataDirectory(): string {
    return this.dataDir;
  }

  /** The temporary data directory (dev mode) that stopping removes; undefined with a configured data_dir. */
  get temporaryDataDirectory(): string | undefined {
    return this.removeDataDirOnExit && this.dataDir !== '' ? this.dataDir : undefined;
  }

  /** The configuration in force (reload updates what it applied). */
  get currentConfig(): AgentConfig {
    return this.config;
  }

  /** Services registered on this agent (for readiness reports such as systemd's STATUS line). */
  serviceCount(): number {
    return this.services?.registry.services().length ?? 0;
  }

  // ---- AgentApi (HTTP) ----

  lanMembers(): Member[] {
    return this.lan?.memberlist.members() ?? [];
  }

  wanMembers(): Member[] | undefined {
    return this.config.server ? (this.wan?.memberlist.members() ?? []) : undefined;
  }

  self(): AgentSelf {
    const c = this.config;
    const lan = this.pool(false);
    const stats: Record<string, Record<string, string>> = {
      agent: { server: String(c.server), version: VERSION, revision: REVISION, node_id: this.nodeId, datacenter: c.datacenter },
      serf_lan: poolStats(lan.memberlist),
      runtime: {
        node_version: process.version,
        os: process.platform,
        arch: process.arch,
        cpu_count: String(cpus().length),
        heap_used_bytes: String(process.memoryUsage().heapUsed),
      },
    };
    if (this.wan !== undefined) stats['serf_wan'] = poolStats(this.wan.memberlist);
    return {
      config: {
        Datacenter: c.datacenter, NodeName: c.nodeName, NodeID: this.nodeId, Server: c.server,
        Revision: REVISION, Version: VERSION, Region: c.region ?? '', Zone: c.zone ?? '',
      },
      member: lan.memberlist.localMember(),
      stats,
    };
  }

  async keyringList(): Promise<KeyringReport[]> {
    const pools = this.keyringPools();
    return Promise.all(pools.map((p) => p.keyring.list()));
  }

  async keyringOperation(op: KeyringOperation, key: string): Promise<KeyringReport[]> {
    const reports: KeyringReport[] = [];
    // WAN first, as Consul: servers of every cluster learn a new key before the LAN pools use it.
    for (const p of this.keyringPools()) reports.push(await p.keyring.apply(op, key));
    return reports;
  }

  async metricsText(): Promise<{ contentType: string; text: string }> {
    const [agent, proxy] = await Promise.all([this.metrics.text(), this.dataPlane?.metricsText() ?? '']);
    return { contentType: this.metrics.contentType, text: proxy === '' ? agent : `${agent.replace(/\n*$/, '\n')}${proxy}` };
  }

  /** The data plane (tests, embedding); undefined without a CA. */
  get proxy(): DataPlane | undefined {
    return this.dataPlane;
  }

  /** The proxy serves sidecars only with workload certificates: it runs when the agent has a CA. */
  private startDataPlane(services: ServiceLayer): void {
    const c = this.config;
    if (services.ca === undefined || c.ca === undefined || this.lan === undefined) return;
    this.dataPlane = new DataPlane({
      nodeName: c.nodeName, datacenter: c.datacenter, trustDomain: c.ca.trustDomain, bindHost: c.bindAddr,
      defaultIntentionPolicy: c.defaultIntentionPolicy, local: services.registry, catalog: () => services.catalog,
      configEntries: services.configEntries, ca: services.ca, lan: this.lan.memberlist, clock: this.clock, random: this.random,
      logger: this.log, logLevel: c.logLevel, logJson: c.logJson,
    });
    this.dataPlane.start();
  }

  // ---- start and stop ----

  private async startAll(): Promise<void> {
    const c = this.config;
    this.removeDataDirOnExit = c.dataDir === undefined;
    this.dataDir = c.dataDir ?? (await makeDevDataDir());
    await prepareDataDir(this.dataDir, this.log);
    this.log.debug({ config: redactedConfig(c) }, 'configuration');
    this.nodeId = await loadNodeId(this.dataDir, c.nodeId);
    const picked = pickAdvertiseAddr(c.bindAddr, networkInterfaces());
    const advertise = c.advertiseAddr ?? picked.addr;
    if (c.advertiseAddr === undefined && picked.ambiguous.length > 0) {
      this.log.warn({ candidates: picked.ambiguous, chosen: advertise }, 'several private addresses found; set advertise_addr to choose');
    }
    const services = new ServiceLayer({
      nodeName: c.nodeName, datacenter: c.datacenter, dataDir: this.dataDir, clock: this.clock, random: this.random,
      logger: this.log, meta: nodeMeta(c, this.nodeId),
    });
    this.services = services;
    registerServiceMetrics(this.metrics.registry, services.metricSources());
    services.loadDefinitions(c.serviceDefinitions);
    await services.loadConfigEntries();
    if (c.ca !== undefined) {
      await services.prepareCa({
        config: c.ca, dev: c.dev, server: c.server, grpcHost: c.bindAddr, grpcPort: c.ports.grpc, defaultIntentionPolicy: c.defaultIntentionPolicy,
        registry: this.metrics.registry, onTagsChanged: () => this.publishTags(),
      });
    }
    this.lan = await this.startPool('lan', c.gossipLan, c.ports.serfLan, advertise, c.ports.serfLan || 7301,
      (ml) => services.attach(ml, advertise));
    if (c.server) {
      this.wan = await this.startPool('wan', c.gossipWan, c.ports.serfWan, c.advertiseAddrWan ?? advertise, c.ports.serfWan || 7302,
        (ml) => services.attachWan(ml), services.wanMux);
    }
    this.http = new HttpApiServer({
      host: c.clientAddr, port: c.ports.http, clock: this.clock,
      routes: apiRoutes(this, {
        catalog: services.catalog, local: services.registry, configEntries: services.configEntries, connect: services.ca, clock: this.clock, random: this.random,
        agentToken: c.aclAgentToken,
      }),
      logger: this.log.child({ component: 'http' }), observer: this.metrics.http,
    });
    await this.http.start();
    if (!isLoopback(c.clientAddr) && c.aclAgentToken === undefined) {
      this.log.warn({ clientAddr: c.clientAddr },
        'the HTTP API listens beyond loopback without acl_agent_token: anyone who can reach it can register services and write intentions; set acl_agent_token');
    }
    await services.start(c.clientAddr, c.ports.dns);
    this.startDataPlane(services);
    this.announceBoundPorts();
    await this.startJoin('lan', c.startJoin);
    if (c.server) await this.startJoin('wan', c.startJoinWan);
    this.startRetryJoin(this.lan, c.retryJoin, c.retryIntervalMs, c.retryMax);
    if (this.wan !== undefined) this.startRetryJoin(this.wan, c.retryJoinWan, c.retryIntervalWanMs, c.retryMaxWan);
    this.log.info({
      node: c.nodeName, nodeId: this.nodeId, datacenter: c.datacenter, server: c.server, version: VERSION,
      lan: this.lan.memberlist.localMember().addr, wan: this.wan?.memberlist.localMember().addr,
      http: `${this.http.address().host}:${this.http.address().port}`, dataDir: this.dataDir,
      encrypted: this.lan.memberlist.keyring !== null, dev: c.dev,
    }, 'agent started');
  }

  private async startPool(
    name: PoolName, gossip: GossipConfig, port: number, advertise: string, seedPort: number, attach?: (m: Memberlist) => void,
    delegate: GossipMux | undefined = this.services?.mux,
  ): Promise<Pool> {
    const c = this.config;
    const store = new KeyringStore(joinPath(this.dataDir, name === 'lan' ? LAN_KEYRING_FILE : WAN_KEYRING_FILE));
    const choice = chooseKeyring(await store.read(), c.encrypt, store.path);
    if (choice.warning !== undefined) this.log.warn({ pool: name }, choice.warning);
    if (choice.seed && choice.keyring !== undefined) await store.save(choice.keyring);
    const logger = this.log.child({ component: 'gossip' });
    const transport = new UdpTcpTransport({ bindAddr: c.bindAddr, bindPort: port, advertiseAddr: advertise, clock: this.clock, logger });
    const memberlist = new Memberlist({
      config: gossip, transport, clock: this.clock, random: this.random, logger,
      metrics: this.metrics.gossip.forPool(name), keyring: choice.keyring === undefined ? null : toKeyring(choice.keyring),
      tags: agentTags(c, c.ports), delegate: attach === undefined ? undefined : delegate,
    });
    attach?.(memberlist);
    const keyring = new ClusterKeyring({
      pool: memberlist, store, wan: name === 'wan', datacenter: c.datacenter, gossipIntervalMs: gossip.gossipIntervalMs, logger: this.log,
    });
    keyring.register();
    try {
      await memberlist.start();
    } catch (err) {
      await memberlist.shutdown().catch(() => {});
      if (err instanceof TransportError) {
        throw new AgentError(AgentErrorCode.bind, `cannot start ${name.toUpperCase()} gossip: ${err.message}`);
      }
      throw err;
    }
    this.metrics.gossip.watchPool(name, memberlist);
    return { name, memberlist, keyring, seedPort };
  }

  /** With ports configured as 0, announce the ports actually bound. */
  private announceBoundPorts(): void {
    const portOf = (p: Pool | undefined, fallback: number): number => (p === undefined ? fallback : splitHostPort(p.memberlist.localMember().addr).port);
    const c = this.config;
    this.ports = {
      ...c.ports,
      http: this.http?.address().port ?? c.ports.http,
      grpc: this.services?.ca?.grpcPort ?? c.ports.grpc,
      serfLan: portOf(this.lan, c.ports.serfLan),
      serfWan: portOf(this.wan, c.ports.serfWan),
    };
    this.publishTags();
  }

  /** Sets the pools' tags: the agent's (with bound ports) and, on the LAN pool, the CA's (they change with leaves and rotations). */
  private publishTags(): void {
    if (this.state !== 'starting' && this.state !== 'running') return;
    const tags = agentTags(this.config, this.ports);
    this.lan?.memberlist.setTags({ ...tags, ...this.services?.ca?.tags() });
    this.wan?.memberlist.setTags(tags);
  }

  private async startJoin(name: PoolName, seeds: readonly string[]): Promise<void> {
    if (seeds.length === 0) return;
    const r = await this.join([...seeds], name === 'wan');
    if (r.joined === 0) {
      const why = r.errors.map((e) => `${e.addr}: ${e.error}`).join('; ');
      throw new AgentError(AgentErrorCode.join, `start_join${name === 'wan' ? '_wan' : ''}: could not join through any of ${seeds.join(', ')}: ${why}`);
    }
    this.log.info({ pool: name, joined: r.joined }, 'start_join: joined');
  }

  private startRetryJoin(pool: Pool, seeds: readonly string[], capMs: number, maxAttempts: number): void {
    if (seeds.length === 0) return;
    pool.joiner = new RetryJoiner({
      pool: pool.name, seeds, capMs, maxAttempts, clock: this.clock, random: this.random, logger: this.log,
      join: async (s) => {
        let joined = false;
        try {
          const r = await this.join(s, pool.name === 'wan');
          joined = r.joined > 0;
          return r;
        } finally {
          this.opts.lifecycle?.joinAttempt(pool.name, joined);
        }
      },
      onGiveUp: (attempts) => {
        const error = new AgentError(AgentErrorCode.retryJoinExhausted,
          `retry_join${pool.name === 'wan' ? '_wan' : ''}: no seed answered in ${attempts} attempts (retry_max); stopping the agent`);
        void this.shutdown({ leave: false, error });
      },
    });
    pool.joiner.start();
  }

  /** Closes whatever was started, in reverse order. Never throws. */
  private async teardown(): Promise<void> {
    await this.dataPlane?.stop().catch((err: unknown) => this.log.warn({ err: String(err) }, 'proxy stop failed'));
    await this.http?.close().catch((err: unknown) => this.log.warn({ err: String(err) }, 'HTTP close failed'));
    await this.services?.stop();
    for (const p of [this.wan, this.lan]) {
      if (p === undefined) continue;
      this.metrics.gossip.removePool(p.name);
      await p.memberlist.shutdown().catch((err: unknown) => this.log.warn({ pool: p.name, err: String(err) }, 'gossip shutdown failed'));
    }
    if (this.removeDataDirOnExit && this.dataDir !== '') {
      await fs.rm(this.dataDir, { recursive: true, force: true }).catch(() => {});
    }
  }

  private pool(wan: boolean): Pool {
    if (this.state !== 'running' && this.state !== 'starting') {
      throw new AgentError(AgentErrorCode.notRunning, `the agent is ${this.state}`, 503);
    }
    const p = wan ? this.wan : this.lan;
    if (p === undefined) {
      throw new AgentError(wan ? AgentErrorCode.notServer : AgentErrorCode.notRunning,
        wan ? 'this agent is not a server, so it is not in the WAN pool' : 'the LAN pool is not running', wan ? 400 : 503);
    }
    return p;
  }

  private keyringPools(): Pool[] {
    const lan = this.pool(false);
    return this.wan === undefined ? [lan] : [this.wan, lan];
  }
}

/** Consul-style string stats of one pool. */
function poolStats(m: Memberlist): Record<string, string> {
  const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
  const members = m.members();
  for (const x of members) counts[x.state]++;
  return {
    members: String(members.length),
    alive: String(counts.alive),
    suspect: String(counts.suspect),
    failed: String(counts.dead),
    left: String(counts.left),
    health_score: String(m.healthScore()),
    encrypted: String(m.keyring !== null),
    addr: m.localMember().addr,
  };
}

/** Node metadata for the catalog: the node ID (Consul's node `ID`) and locality, so routing can prefer near instances. */
function nodeMeta(c: AgentConfig, nodeId: string): Record<string, string> {
  const meta: Record<string, string> = { 'node-id': nodeId };
  if (c.region !== undefined) meta['region'] = c.region;
  if (c.zone !== undefined) meta['zone'] = c.zone;
  return meta;
}
