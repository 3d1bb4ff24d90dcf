/**
 * The agent's service layer: this node's own services and checks (the local registry), the
 * replicated catalog that spreads them and gathers every other node's, the replicated config entries,
 * and DNS. It rides on the LAN pool through the gossip mux. The agent creates it before the LAN pool
 * starts (the mux is the pool's delegate; channels must be attached before the first gossip), and
 * starts its checks and DNS once the pool is up.
 */
import type { Logger as PinoLogger } from 'pino';
import { LocalRegistry } from '../catalog/local-registry';
import { ReplicatedCatalog } from '../catalog/replicated-catalog';
import { ValidationError, type ValidationProblem } from '../catalog/types';
import { CaLayer, type CaLayerOptions } from '../ca-client';
import { aliasSourceFromCatalog } from '../checks';
import type { ParsedDocument } from '../config';
import { ConfigEntryStore } from '../config-entries';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import { DnsServer } from '../dns';
import type { Memberlist } from '../gossip/memberlist';
import type { ServiceLayerSources } from '../metrics';
import { GossipMux } from './gossip-mux';

/** The CA settings the agent passes; the service layer supplies the rest (its stores, clock, logger). */
export type CaLayerSettings = Omit<CaLayerOptions, 'nodeName' | 'datacenter' | 'dataDir' | 'local' | 'catalog' | 'configEntries' | 'clock' | 'random' | 'logger'>;

/** What the service layer needs to know about this node. */
export interface ServiceLayerOptions {
  nodeName: string;
  datacenter: string;
  dataDir: string;
  /** Node metadata announced in the catalog (region, zone, ...). */
  meta: Readonly<Record<string, string>>;
  clock: Clock;
  random: Random;
  logger: PinoLogger;
}

/** Local registry + replicated catalog + config entries + DNS, wired together. */
export class ServiceLayer {
  readonly mux = new GossipMux();
  /** Servers: the WAN pool's delegate, carrying the trust bundle's shared keys between clusters. */
  readonly wanMux = new GossipMux();
  readonly registry: LocalRegistry;
  readonly configEntries: ConfigEntryStore;
  catalog: ReplicatedCatalog | undefined;
  /** The CA (leaves, trust bundle, signing on servers), when configured. */
  ca: CaLayer | undefined;
  private dns: DnsServer | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: ServiceLayerOptions) {
    const logger = opts.logger.child({ component: 'catalog' });
    this.registry = new LocalRegistry({
      dataDir: opts.dataDir, nodeName: opts.nodeName, clock: opts.clock, random: opts.random, logger,
      aliasLookup: {
        // The catalog exists only once the LAN address is known; alias checks start after that.
        checksFor: (node, service) => (this.catalog ? aliasSourceFromCatalog(this.catalog).checksFor(node, service) : undefined),
        subscribe: (fn) => (this.catalog ? this.catalog.subscribe(fn) : () => {}),
      },
    });
    this.configEntries = new ConfigEntryStore({
      nodeName: opts.nodeName, clock: opts.clock, logger: opts.logger.child({ component: 'config-entries' }), dataDir: opts.dataDir,
    });
  }

  /**
   * Validates the service definitions from the configuration files; throws a ValidationError listing
   * every problem (the agent then refuses to start), else they take effect.
   */
  loadDefinitions(docs: readonly ParsedDocument[]): void {
    const problems: ValidationProblem[] = this.registry.loadFiles(docs);
    if (problems.length > 0) throw new ValidationError(problems);
  }

  /** Reads persisted config entries (a corrupt file is moved aside and logged; peers refill it). */
  async loadConfigEntries(): Promise<void> {
    // The outcome only: `state` holds every record (the store itself logs the counts).
    const { state: _state, ...outcome } = await this.configEntries.load();
    this.opts.logger.info({ component: 'config-entries', ...outcome }, 'config entries loaded');
  }

  /**
   * Creates the CA layer over this layer's stores and reads its material (call before the LAN pool
   * starts: the bundle rides on the same mux, channel 3).
   */
  async prepareCa(settings: CaLayerSettings): Promise<CaLayer> {
    const o = this.opts;
    this.ca = new CaLayer({
      ...settings, nodeName: o.nodeName, datacenter: o.datacenter, dataDir: o.dataDir, local: this.registry, catalog: () => this.catalog,
      configEntries: this.configEntries, clock: o.clock, random: o.random, logger: o.logger,
    });
    await this.ca.prepare();
    return this.ca;
  }

  /** Attaches the catalog, config entries and CA bundle to the LAN pool; call before the pool starts. */
  attach(lan: Memberlist, advertiseHost: string): void {
    this.mux.attach(lan);
    this.catalog = new ReplicatedCatalog({
      nodeName: this.opts.nodeName, address: advertiseHost, datacenter: this.opts.datacenter, meta: this.opts.meta,
      clock: this.opts.clock, logger: this.opts.logger.child({ component: 'catalog' }),
    });
    this.catalog.attach(this.mux, lan);
    this.configEntries.attach(this.mux, lan);
    this.ca?.attach(this.mux, lan);
  }

  /** Servers: attaches the CA bundle to the WAN pool (other clusters' intermediates); call before the pool starts. */
  attachWan(wan: Memberlist): void {
    this.wanMux.attach(wan);
    this.ca?.attachWan(this.wanMux, wan);
  }

  /** Starts checks, publishes this node's services, and serves DNS on `host:port` (port < 0: no DNS). */
  async start(dnsHost: string, dnsPort: number): Promise<void> {
    const catalog = this.catalog;
    if (!catalog) throw new Error('service layer started before it was attached to the LAN pool');
    await this.registry.start();
    this.registry.setNodeHealth('passing', 'Agent alive and reachable');
    const publish = (): void => {
      try {
        catalog.setLocal(this.registry.snapshot());
      } catch (err) {
        this.opts.logger.error({ err: (err as Error).message }, 'local services exceed what the catalog can spread');
      }
    };
    this.unsubscribe = this.registry.subscribe(publish);
    publish();
    if (dnsPort >= 0) {
      this.dns = new DnsServer({
        catalog, datacenter: this.opts.datacenter, clock: this.opts.clock, random: this.opts.random,
        logger: this.opts.logger.child({ component: 'dns' }),
      });
      await this.dns.start(dnsHost, dnsPort);
    }
    // After the registry: leaves follow the local services, and servers authorize from the catalog.
    await this.ca?.start();
  }

  /** Re-reads service definitions; throws a ValidationError (and changes nothing) on any problem. */
  reload(docs: readonly ParsedDocument[]): void {
    this.loadDefinitions(docs);
  }

  /** What the service-layer metrics read at scrape time. */
  metricSources(): ServiceLayerSources {
    return {
      localChecks: () => this.registry.checks(),
      catalog: () => {
        const c = this.catalog;
        if (!c) return undefined;
        const nodes = c.nodes();
        let instances = 0;
        for (const n of nodes) instances += n.services.length;
        return { stats: c.stats(), nodes: nodes.length, instances };
      },
      configEntries: () => ({ stats: this.configEntries.stats(), entries: this.configEntries.list().length }),
      dns: () => this.dns?.stats(),
    };
  }

  /** The DNS server's bound address, when running. */
  dnsAddress(): { host: string; port: number } | undefined {
    return this.dns?.address();
  }

  /** Stops DNS and checks and writes pending config entries. Never throws. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.ca?.stop().catch(() => {});
    await this.dns?.stop().catch(() => {});
    await this.registry.stop().catch(() => {});
    this.catalog?.close();
    await this.configEntries.close().catch(() => {});
  }
}
