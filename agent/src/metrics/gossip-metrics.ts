/**
 * The gossip layer's metrics, bound to prom-client. One set of metric families per registry; each
 * pool (`lan`, `wan`) gets its own `GossipMetrics` that fills in the `pool` label. Children are cached
 * per label set so the per-packet path is a Map lookup and an add, not a label hash.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Member } from '../gossip/member';
import type { MemberState } from '../gossip/messages';
import type { DropReason, GossipMetrics } from '../gossip/metrics';

/** What the scrape-time gauges read from a pool. */
export interface PoolSource {
  members(): Member[];
  healthScore(): number;
}

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/**
 * Probe round trips, in seconds: from 0.5 ms (loopback) to 5 s (a WAN probe near its timeout), dense
 * around the LAN probe timeout of 500 ms where Lifeguard decisions are made.
 */
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Inc = { inc(n?: number): void };

/** The gossip metric families of one registry. */
export class GossipMetricFamilies {
  readonly messagesIn: Counter<'pool' | 'type'>;
  readonly messagesOut: Counter<'pool' | 'type'>;
  readonly messageBytesIn: Counter<'pool' | 'type'>;
  readonly messageBytesOut: Counter<'pool' | 'type'>;
  readonly wireBytes: Counter<'pool' | 'direction' | 'channel'>;
  readonly dropped: Counter<'pool' | 'reason' | 'channel'>;
  readonly probeRtt: Histogram<'pool'>;
  readonly suspicions: Counter<'pool'>;
  readonly refutations: Counter<'pool'>;
  readonly failures: Counter<'pool'>;
  private readonly pools = new Map<string, PoolSource>();

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
      new Counter({ name, help, labelNames, registers });
    this.messagesIn = counter('shoal_gossip_messages_received_total', 'Gossip messages received and decoded, by type.', ['pool', 'type']);
    this.messagesOut = counter('shoal_gossip_messages_sent_total', 'Gossip messages sent, by type.', ['pool', 'type']);
    this.messageBytesIn = counter('shoal_gossip_message_bytes_received_total', 'Encoded bytes of gossip messages received, by type.', ['pool', 'type']);
    this.messageBytesOut = counter('shoal_gossip_message_bytes_sent_total', 'Encoded bytes of gossip messages sent, by type.', ['pool', 'type']);
    this.wireBytes = counter('shoal_gossip_wire_bytes_total', 'Gossip bytes on the wire after framing and encryption.', ['pool', 'direction', 'channel']);
    this.dropped = counter('shoal_gossip_packets_dropped_total', 'Inbound gossip packets or frames dropped, by reason.', ['pool', 'reason', 'channel']);
    this.probeRtt = new Histogram({
      name: 'shoal_gossip_probe_rtt_seconds',
      help: 'Round trip of successful direct probes.',
      labelNames: ['pool'],
      buckets: RTT_BUCKETS,
      registers,
    });
    this.suspicions = counter('shoal_gossip_suspicions_total', 'Members that went from alive to suspect.', ['pool']);
    this.refutations = counter('shoal_gossip_refutations_total', 'Suspicions or deaths about this node that it refuted.', ['pool']);
    this.failures = counter('shoal_gossip_failures_total', 'Members declared dead (failed, not left).', ['pool']);
    const pools = this.pools;
    new Gauge({
      name: 'shoal_gossip_members',
      help: 'Known members by state, this node included.',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [pool, src] of pools) {
          const counts = new Map<MemberState, number>(STATES.map((s) => [s, 0]));
          for (const m of src.members()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ pool, state }, n);
        }
      },
    });
    new Gauge({
      name: 'shoal_gossip_health_score',
      help: 'Lifeguard local health score: 0 is healthy; higher stretches this node\'s probe timeouts.',
      labelNames: ['pool'],
      registers,
      collect() {
        this.reset();
        for (const [pool, src] of pools) this.set({ pool }, src.healthScore());
      },
    });
  }

  /** The GossipMetrics of one pool (handed to its Memberlist). */
  forPool(pool: string): GossipMetrics {
    return new PoolMetrics(this, pool);
  }

  /** Stops reporting a pool's gauges (the pool shut down). */
  removePool(pool: string): void {
    this.pools.delete(pool);
  }

  /**
   * Feeds a pool's members and health gauges at scrape time. Separate from `forPool` because the
   * Memberlist that is the source takes its GossipMetrics in its constructor.
   */
  watchPool(pool: string, source: PoolSource): void {
    this.pools.set(pool, source);
  }
}

/** GossipMetrics for one pool, with label children cached by key. */
class PoolMetrics implements GossipMetrics {
  private readonly cache = new Map<string, Inc>();
  private readonly rtt;
  private readonly suspicionChild: Inc;
  private readonly refutationChild: Inc;
  private readonly failureChild: Inc;

  constructor(
    private readonly f: GossipMetricFamilies,
    private readonly pool: string,
  ) {
    this.rtt = f.probeRtt.labels({ pool });
    this.suspicionChild = f.suspicions.labels({ pool });
    this.refutationChild = f.refutations.labels({ pool });
    this.failureChild = f.failures.labels({ pool });
  }

  messageIn(type: string, bytes: number): void {
    this.child(`in:${type}`, () => this.f.messagesIn.labels({ pool: this.pool, type })).inc();
    this.child(`inb:${type}`, () => this.f.messageBytesIn.labels({ pool: this.pool, type })).inc(bytes);
  }

  messageOut(type: string, bytes: number): void {
    this.child(`out:${type}`, () => this.f.messagesOut.labels({ pool: this.pool, type })).inc();
    this.child(`outb:${type}`, () => this.f.messageBytesOut.labels({ pool: this.pool, type })).inc(bytes);
  }

  wireBytes(direction: 'in' | 'out', channel: 'udp' | 'tcp', bytes: number): void {
    this.child(`w:${direction}:${channel}`, () => this.f.wireBytes.labels({ pool: this.pool, direction, channel })).inc(bytes);
  }

  dropped(reason: DropReason, channel: 'udp' | 'tcp'): void {
    this.child(`d:${reason}:${channel}`, () => this.f.dropped.labels({ pool: this.pool, reason, channel })).inc();
  }

  probeRtt(ms: number): void {
    this.rtt.observe(ms / 1000);
  }

  suspicion(): void {
    this.suspicionChild.inc();
  }

  refutation(): void {
    this.refutationChild.inc();
  }

  failure(): void {
    this.failureChild.inc();
  }

  private child(key: string, make: () => Inc): Inc {
    let c = this.cache.get(key);
    if (c === undefined) {
      c = make();
      this.cache.set(key, c);
    }
    return c;
  }
}
