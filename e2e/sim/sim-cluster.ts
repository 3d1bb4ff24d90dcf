/**
 * A simulated cluster: real memberlist code on the in-memory network and a virtual clock. Used by the
 * gossip unit tests and by `npm run bench:gossip` (up to 5000 members in one process).
 */
import { VirtualClock } from '../../agent/src/core/clock';
import { SeededRandom } from '../../agent/src/core/random';
import { defaultLanConfig, type GossipConfig } from '../../agent/src/gossip/config';
import type { GossipDelegate, MemberEvent } from '../../agent/src/gossip/member';
import { Memberlist } from '../../agent/src/gossip/memberlist';
import type { PushNodeState, Tags } from '../../agent/src/gossip/messages';
import { noopGossipMetrics, type GossipMetrics } from '../../agent/src/gossip/metrics';
import type { Keyring } from '../../agent/src/gossip/keyring';
import { MemoryNetwork } from '../../agent/src/transport/memory';

/** One simulated member. */
export interface SimNode {
  name: string;
  addr: string;
  ml: Memberlist;
  crashed: boolean;
}

/** Options for a simulated cluster. */
export interface SimOptions {
  seed?: number;
  /** One-way latency per packet, ms (default 0.5: a LAN). */
  latencyMs?: number;
  jitterMs?: number;
  loss?: number;
  /** Overrides applied to every member's LAN profile. */
  config?: Partial<GossipConfig>;
  keyring?: () => Keyring | null;
  /** Called for every membership event on every node. */
  onEvent?: (observer: SimNode, event: MemberEvent) => void;
  metrics?: (node: string) => GossipMetrics;
  /** A delegate per member (catalog-style layers riding on gossip). */
  delegate?: (node: string) => GossipDelegate | undefined;
}

/** Address of the i-th simulated node: 10.x.y.z:7301, unique for i < 2^24. */
export function simAddr(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7301`;
}

/** A cluster of simulated members sharing one network and clock. */
export class SimCluster {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes: SimNode[] = [];
  private readonly byName = new Map<string, SimNode>();

  constructor(private readonly opts: SimOptions = {}) {
    this.random = new SeededRandom(opts.seed ?? 1);
    this.net = new MemoryNetwork({
      clock: this.clock, random: this.random.fork(), latencyMs: opts.latencyMs ?? 0.5,
      jitterMs: opts.jitterMs ?? 0, loss: opts.loss ?? 0,
    });
  }

  /** Creates and starts a member (it knows nobody until it joins or is seeded). */
  async add(name: string, tags: Tags = {}): Promise<SimNode> {
    const addr = simAddr(this.nodes.length + 1);
    const config = { ...defaultLanConfig(name, 'sim'), ...this.opts.config, nodeName: name };
    const ml = new Memberlist({
      config, transport: this.net.transport(addr), clock: this.clock, random: this.random.fork(), tags,
      keyring: this.opts.keyring?.() ?? null, metrics: this.opts.metrics?.(name) ?? noopGossipMetrics,
      delegate: this.opts.delegate?.(name),
    });
    const node: SimNode = { name, addr, ml, crashed: false };
    if (this.opts.onEvent) ml.on((e) => this.opts.onEvent!(node, e));
    await ml.start();
    this.nodes.push(node);
    this.byName.set(name, node);
    return node;
  }

  /** Starts `n` members and gives each the full member list, as if they had converged. */
  async addConverged(n: number, prefix = 'node'): Promise<void> {
    const start = this.nodes.length;
    for (let i = 0; i < n; i++) await this.add(`${prefix}-${start + i}`);
    const states: PushNodeState[] = this.nodes.map((s) => {
      const m = s.ml.localMember();
      return { name: m.name, addr: m.addr, incarnation: m.incarnation, state: 'alive', tags: m.tags, protocol: m.protocol };
    });
    for (const s of this.nodes) s.ml.restoreMembers(states);
  }

  node(name: string): SimNode {
    const n = this.byName.get(name);
    if (!n) throw new Error(`no simulated node ${name}`);
    return n;
  }

  /** Stops a member abruptly (kill -9): it sends and receives nothing from now on. */
  crash(name: string): void {
    const n = this.node(name);
    n.crashed = true;
    this.net.crash(n.addr);
    void n.ml.shutdown();
  }

  /** Members that are running. */
  live(): SimNode[] {
    return this.nodes.filter((n) => !n.crashed);
  }

  /** Advances virtual time, letting promise-based work (streams) run between small steps. */
  async run(ms: number, stepMs = 5): Promise<void> {
    await this.clock.advanceAsync(ms, stepMs);
  }

  /** Advances until `pred` holds or `maxMs` passed; returns the elapsed virtual ms, or -1. */
  async runUntil(pred: () => boolean, maxMs: number, stepMs = 5): Promise<number> {
    const start = this.clock.now();
    while (this.clock.now() - start < maxMs) {
      if (pred()) return this.clock.now() - start;
      await this.clock.advanceAsync(stepMs, stepMs);
    }
    return pred() ? this.clock.now() - start : -1;
  }

  /** Advances virtual time until `p` settles (or `maxMs` passed, then rejects). */
  async settle<T>(p: Promise<T>, maxMs = 60_000, stepMs = 5): Promise<T> {
    let done = false;
    const tracked = p.finally(() => { done = true; });
    tracked.catch(() => {});
    const start = this.clock.now();
    while (!done && this.clock.now() - start < maxMs) await this.clock.advanceAsync(stepMs, stepMs);
    if (!done) throw new Error(`simulation: promise still pending after ${maxMs} virtual ms`);
    return tracked;
  }

  /** How the running members see `name`: counts by state (unknown when not listed). */
  viewOf(name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.live()) {
      if (n.name === name) continue;
      const s = n.ml.member(name)?.state ?? 'unknown';
      out[s] = (out[s] ?? 0) + 1;
    }
    return out;
  }

  async shutdown(): Promise<void> {
    for (const n of this.nodes) if (!n.crashed) await n.ml.shutdown();
  }
}
