/**
 * A simulated cluster whose members each run a GossipMux with a ReplicatedCatalog on channel 1:
 * the real catalog and memberlist code on the in-memory network and a virtual clock.
 */
import { GossipMux } from '../../src/agent/gossip-mux';
import { ReplicatedCatalog, type CatalogTuning } from '../../src/catalog/replicated-catalog';
import type { CheckRecord, HealthStatus, ServiceRecord } from '../../src/catalog/types';
import { SeededRandom } from '../../src/core/random';
import { defaultLanConfig } from '../../src/gossip/config';
import { Memberlist } from '../../src/gossip/memberlist';
import { SimCluster, type SimOptions } from '../../../e2e/sim/sim-cluster';

/** One simulated agent's catalog side. */
export interface CatalogNode {
  name: string;
  mux: GossipMux;
  catalog: ReplicatedCatalog;
}

/** A SimCluster plus a catalog per member. */
export class CatalogSim {
  readonly c: SimCluster;
  readonly muxes = new Map<string, GossipMux>();
  readonly catalogs = new Map<string, ReplicatedCatalog>();

  constructor(opts: SimOptions = {}, private readonly tuning: Partial<CatalogTuning> = {}) {
    this.c = new SimCluster({
      ...opts,
      delegate: (name) => {
        const mux = new GossipMux();
        this.muxes.set(name, mux);
        return mux;
      },
    });
  }

  /** Starts `n` members with a converged member list and a catalog each. */
  async start(n: number): Promise<void> {
    await this.c.addConverged(n);
    for (const node of this.c.nodes) this.attach(node.name, node.ml);
  }

  /** Starts one more member (optionally at an old address) that joins through `seed`. */
  async restart(name: string, addr: string, seed: string): Promise<ReplicatedCatalog> {
    const mux = new GossipMux();
    const ml = new Memberlist({
      config: defaultLanConfig(name, 'sim'), transport: this.c.net.transport(addr), clock: this.c.clock,
      random: new SeededRandom(1234), delegate: mux,
    });
    this.muxes.set(name, mux);
    const catalog = this.attach(name, ml);
    await ml.start();
    const node = this.c.node(name);
    node.ml = ml;
    node.crashed = false;
    await this.c.settle(ml.join([this.c.node(seed).addr]));
    return catalog;
  }

  catalog(name: string): ReplicatedCatalog {
    const cat = this.catalogs.get(name);
    if (cat === undefined) throw new Error(`no catalog for ${name}`);
    return cat;
  }

  /** Catalogs of running members. */
  liveCatalogs(except?: string): ReplicatedCatalog[] {
    return this.c.live().filter((n) => n.name !== except).map((n) => this.catalog(n.name));
  }

  /** Crashes a member and stops its catalog's timers. */
  crash(name: string): void {
    this.catalog(name).close();
    this.c.crash(name);
  }

  async shutdown(): Promise<void> {
    for (const cat of this.catalogs.values()) cat.close();
    await this.c.shutdown();
  }

  private attach(name: string, ml: Memberlist): ReplicatedCatalog {
    const mux = this.muxes.get(name)!;
    mux.attach(ml);
    const catalog = new ReplicatedCatalog({
      nodeName: name, address: `10.0.0.${this.catalogs.size + 1}`, datacenter: 'sim', clock: this.c.clock, tuning: this.tuning,
    });
    catalog.attach(mux, ml);
    this.catalogs.set(name, catalog);
    return catalog;
  }
}

/** A plain service record. */
export function svc(id: string, name = id, extra: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    id, name, kind: '', address: '', port: 8080, tags: [], meta: {}, weights: { passing: 1, warning: 1 },
    enableTagOverride: false, namespace: 'default', source: 'api', ...extra,
  };
}

/** A sidecar proxy for `dest`. */
export function sidecar(dest: string, port = 21000): ServiceRecord {
  return svc(`${dest}-sidecar-proxy`, `${dest}-sidecar-proxy`, {
    kind: 'connect-proxy', port,
    proxy: {
      destinationServiceName: dest, destinationServiceId: dest, localServiceAddress: '127.0.0.1', localServicePort: 8080,
      upstreams: [], config: {},
    },
  });
}

/** A service check. */
export function chk(id: string, service: ServiceRecord | undefined, status: HealthStatus = 'passing', output = ''): CheckRecord {
  return {
    checkId: id, name: id, status, notes: '', output, serviceId: service?.id ?? '', serviceName: service?.name ?? '',
    serviceTags: service?.tags ?? [], type: 'http', interval: '10s', timeout: '1s',
  };
}
