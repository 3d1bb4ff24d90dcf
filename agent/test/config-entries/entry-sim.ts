/**
 * A simulated cluster whose members each run a GossipMux with a ConfigEntryStore on channel 2 (and
 * optionally a data directory per member): real store and memberlist code on the in-memory network
 * and a virtual clock.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GossipMux } from '../../src/agent/gossip-mux';
import { ConfigEntryStore, type ConfigEntriesTuning } from '../../src/config-entries/config-entry-store';
import { SeededRandom } from '../../src/core/random';
import { defaultLanConfig, type GossipConfig } from '../../src/gossip/config';
import { Memberlist } from '../../src/gossip/memberlist';
import { SimCluster, type SimOptions } from '../../../e2e/sim/sim-cluster';

/** Options of EntrySim. */
export interface EntrySimOptions extends SimOptions {
  /** Give every member a data directory under this root. */
  dataRoot?: string;
  tuning?: Partial<ConfigEntriesTuning>;
}

/** A SimCluster plus a config entry store per member. */
export class EntrySim {
  readonly c: SimCluster;
  readonly muxes = new Map<string, GossipMux>();
  readonly stores = new Map<string, ConfigEntryStore>();

  constructor(private readonly opts: EntrySimOptions = {}) {
    this.c = new SimCluster({
      ...opts,
      delegate: (name) => {
        const mux = new GossipMux();
        this.muxes.set(name, mux);
        return mux;
      },
    });
  }

  /** Starts `n` members with a converged member list and a (loaded) store each. */
  async start(n: number): Promise<void> {
    await this.c.addConverged(n);
    for (const node of this.c.nodes) await this.attach(node.name, node.ml);
  }

  /** Starts a member again at `addr` (its data directory kept) and joins it through `seed`. */
  async restart(name: string, addr: string, seed: string, config: Partial<GossipConfig> = {}): Promise<ConfigEntryStore> {
    const mux = new GossipMux();
    const ml = new Memberlist({
      config: { ...defaultLanConfig(name, 'sim'), ...this.opts.config, ...config, nodeName: name },
      transport: this.c.net.transport(addr), clock: this.c.clock, random: new SeededRandom(4321), delegate: mux,
    });
    this.muxes.set(name, mux);
    const store = await this.attach(name, ml);
    await ml.start();
    const node = this.c.node(name);
    node.ml = ml;
    node.crashed = false;
    await this.c.settle(ml.join([this.c.node(seed).addr]));
    return store;
  }

  store(name: string): ConfigEntryStore {
    const s = this.stores.get(name);
    if (s === undefined) throw new Error(`no store for ${name}`);
    return s;
  }

  liveStores(except?: string): ConfigEntryStore[] {
    return this.c.live().filter((n) => n.name !== except).map((n) => this.store(n.name));
  }

  /** The data directory of a member (with `dataRoot`). */
  dataDir(name: string): string | undefined {
    return this.opts.dataRoot === undefined ? undefined : join(this.opts.dataRoot, name);
  }

  /** Crashes a member: its store stops (pending writes are flushed, as a crash after fsync). */
  async crash(name: string): Promise<void> {
    await this.store(name).close();
    this.c.crash(name);
  }

  async shutdown(): Promise<void> {
    for (const s of this.stores.values()) await s.close();
    await this.c.shutdown();
  }

  private async attach(name: string, ml: Memberlist): Promise<ConfigEntryStore> {
    const mux = this.muxes.get(name)!;
    mux.attach(ml);
    const dataDir = this.dataDir(name);
    if (dataDir !== undefined) await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const store = new ConfigEntryStore({ nodeName: name, clock: this.c.clock, dataDir, tuning: this.opts.tuning });
    await store.load();
    store.attach(mux, ml);
    this.stores.set(name, store);
    return store;
  }
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'shoal-ce-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
