/**
 * `npm run bench:gossip`: the real memberlist code on the in-memory network and a virtual clock, for
 * N = 100, 1000 and 5000 members (or `--sizes 100,1000`). Prints, per N, each measured figure beside
 * what memberlist's formulas predict:
 *   - dissemination: time until 50%, 99% and 100% of members know a new member / a changed tag;
 *   - failure detection: crash to first suspicion, and to every member marking it dead;
 *   - false positives: healthy members declared dead during `--minutes` (default 10) simulated minutes
 *     with 5% and with 20% uniform packet loss, and with 5% of members slowed past the probe timeout;
 *   - traffic: mean bytes sent per member per second in steady state.
 * A benchmark: it prints figures and never fails on a time.
 */
import { defaultLanConfig, type GossipConfig } from '../../agent/src/gossip/config';
import type { MemberEvent } from '../../agent/src/gossip/member';
import { SimCluster, type SimNode } from '../sim/sim-cluster';
import { systemClock } from '../../agent/src/core/clock';

const lan = defaultLanConfig();

interface Args {
  sizes: number[];
  minutes: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: [100, 1000, 5000], minutes: 10, seed: 42 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--sizes' && v) { args.sizes = v.split(',').map(Number); i++; }
    else if (argv[i] === '--minutes' && v) { args.minutes = Number(v); i++; }
    else if (argv[i] === '--seed' && v) { args.seed = Number(v); i++; }
  }
  return args;
}

/** Records when each observer first saw `kind` about `subject`. */
class Watch {
  readonly times: number[] = [];
  private readonly seen = new Set<string>();
  subject = '';
  kinds: MemberEvent['kind'][] = [];
  startMs = 0;

  arm(subject: string, kinds: MemberEvent['kind'][], nowMs: number): void {
    this.subject = subject;
    this.kinds = kinds;
    this.startMs = nowMs;
    this.times.length = 0;
    this.seen.clear();
  }

  observe(observer: SimNode, e: MemberEvent, nowMs: number, extra?: (e: MemberEvent) => boolean): void {
    if (e.member.name !== this.subject || !this.kinds.includes(e.kind)) return;
    if (extra && !extra(e)) return;
    if (this.seen.has(observer.name)) return;
    this.seen.add(observer.name);
    this.times.push(nowMs - this.startMs);
  }

  count(): number {
    return this.times.length;
  }

  /** Time by which `fraction` of `population` observers had seen it, or -1. */
  quantile(fraction: number, population: number): number {
    const need = Math.ceil(fraction * population);
    if (need === 0) return 0;
    return this.times.length >= need ? this.times[need - 1]! : -1;
  }
}

const fmtS = (ms: number): string => (ms < 0 ? 'never' : `${(ms / 1000).toFixed(2)} s`);

/** memberlist-style predictions for N members on the LAN profile. */
function expectations(n: number): Record<string, string> {
  const T = lan.probeIntervalMs;
  const fanout = lan.gossipNodes;
  // Push gossip with fanout f: about log_{f+1}(N) rounds to reach most, ln(N)/f more for the tail.
  const rounds = Math.log(n) / Math.log(fanout + 1) + Math.log(n) / fanout;
  const spread = rounds * lan.gossipIntervalMs;
  const minSusp = lan.suspicionMult * Math.log10(n + 1) * T;
  const entryBytes = 60;
  const pushPullEvery = lan.pushPullIntervalMs * (n <= 32 ? 1 : Math.ceil(Math.log2(n) - 5) + 1);
  const probeBytes = 2 * (60 + 25); // ping + ack each second, with envelope
  const ppBytes = (2 * n * entryBytes) / (pushPullEvery / 1000) / 1; // initiator sends and receives one state
  return {
    spread: `~${(spread / 1000).toFixed(2)} s (log_${fanout + 1}N + lnN/${fanout} rounds x ${lan.gossipIntervalMs} ms)`,
    firstSuspect: `~${((2 * T) / 1000).toFixed(1)} s (first probe ~1 interval, then probe timeout + indirect wait)`,
    deadEverywhere: `~${((2 * T + minSusp + spread) / 1000).toFixed(1)} s (2 x interval + min suspicion ${(minSusp / 1000).toFixed(1)} s + spread)`,
    traffic: `~${Math.round(probeBytes + ppBytes / 2)} B/s (probes ${probeBytes} B/s + push-pull of ${n} x ~${entryBytes} B every ${(pushPullEvery / 1000).toFixed(0)} s)`,
  };
}

async function converged(
  n: number, seed: number, onEvent: (obs: SimNode, e: MemberEvent) => void, loss = 0, config: Partial<GossipConfig> = {},
): Promise<SimCluster> {
  const c = new SimCluster({ seed, loss, onEvent, config });
  await c.addConverged(n);
  await c.run(5000, 10);
  return c;
}

async function dissemination(n: number, seed: number): Promise<void> {
  const watch = new Watch();
  const ref: { cluster?: SimCluster } = {};
  const onEvent = (obs: SimNode, e: MemberEvent): void => watch.observe(obs, e, ref.cluster!.clock.now(),
    (ev) => ev.kind !== 'update' || ev.member.tags.zone === 'changed');
  const cluster = await converged(n, seed, onEvent);
  ref.cluster = cluster;
  const exp = expectations(n);

  watch.arm(`joiner`, ['join'], cluster.clock.now());
  const joiner = await cluster.add('joiner');
  const seedNode = cluster.nodes[cluster.random.int(n)]!;
  const t0 = cluster.clock.now();
  watch.startMs = t0;
  await cluster.settle(joiner.ml.join([seedNode.addr]));
  await cluster.runUntil(() => watch.count() >= n, 30_000, 10);
  console.log(`  new member known by 50% / 99% / 100%: ${fmtS(watch.quantile(0.5, n))} / ${fmtS(watch.quantile(0.99, n))} / ${fmtS(watch.quantile(1, n))}   expected ${exp.spread}`);

  const subject = cluster.nodes[cluster.random.int(n)]!;
  watch.arm(subject.name, ['update'], cluster.clock.now());
  subject.ml.setTags({ ...subject.ml.localMember().tags, zone: 'changed' });
  await cluster.runUntil(() => watch.count() >= n, 30_000, 10);
  console.log(`  changed tag known by 50% / 99% / 100%: ${fmtS(watch.quantile(0.5, n))} / ${fmtS(watch.quantile(0.99, n))} / ${fmtS(watch.quantile(1, n))}   expected ${exp.spread}`);

  // Failure detection on the same cluster.
  const suspect = new Watch();
  const dead = new Watch();
  const victim = cluster.nodes[1 + cluster.random.int(n - 1)]!;
  const now = cluster.clock.now();
  suspect.arm(victim.name, ['suspect'], now);
  dead.arm(victim.name, ['failed'], now);
  cluster.nodes.forEach((nd) => nd.ml.on((e) => {
    suspect.observe(nd, e, cluster.clock.now());
    dead.observe(nd, e, cluster.clock.now());
  }));
  cluster.crash(victim.name);
  const population = cluster.live().length;
  await cluster.runUntil(() => dead.count() >= population, 120_000, 10);
  console.log(`  crash -> first suspicion: ${fmtS(suspect.times[0] ?? -1)}   expected ${exp.firstSuspect}`);
  console.log(`  crash -> dead at 50% / 100% of members: ${fmtS(dead.quantile(0.5, population))} / ${fmtS(dead.quantile(1, population))}   expected ${exp.deadEverywhere}`);

  // Steady-state traffic over one minute.
  const before = cluster.net.stats().bytesSent;
  await cluster.run(60_000, 10);
  const perMember = (cluster.net.stats().bytesSent - before) / cluster.live().length / 60;
  console.log(`  traffic: ${perMember.toFixed(0)} B/s sent per member   expected ${exp.traffic}`);
  await cluster.shutdown();
}

/**
 * The in-memory network loses datagrams but never stream traffic, so the TCP fallback ping rescues
 * every probe whose UDP round trips were lost. Real TCP under loss pays a 1 s SYN retransmit that the
 * probe window does not have, so each loss scenario also runs with the fallback off
 * (disable_tcp_pings): the worst case, where only indirect probes, suspicion and refutation stand
 * between packet loss and a false "failed".
 */
async function falsePositives(n: number, seed: number, minutes: number, mode: 'loss5' | 'loss20' | 'slow5', tcpPings: boolean): Promise<void> {
  const wrongly = new Set<string>();
  // Distinct suspicions: one per (member, incarnation), however many members heard of it.
  const suspected = new Set<string>();
  const onEvent = (_obs: SimNode, e: MemberEvent): void => {
    if (e.kind === 'failed') wrongly.add(e.member.name);
    if (e.kind === 'suspect') suspected.add(`${e.member.name}@${e.member.incarnation}`);
  };
  const c = await converged(n, seed, onEvent, 0, { disableTcpPings: !tcpPings });
  if (mode === 'loss5') c.net.setLoss(0.05);
  if (mode === 'loss20') c.net.setLoss(0.2);
  if (mode === 'slow5') {
    const slow = Math.max(1, Math.round(n * 0.05));
    for (let i = 0; i < slow; i++) c.net.setProcessingDelay(c.nodes[i]!.addr, lan.probeTimeoutMs + 250);
  }
  const wallStart = systemClock.now();
  await c.run(minutes * 60_000, 10);
  const label = mode === 'loss5' ? '5% packet loss' : mode === 'loss20' ? '20% packet loss' : `5% slow members (+${lan.probeTimeoutMs + 250} ms)`;
  console.log(`  false positives, ${minutes} min with ${label}${tcpPings ? '' : ', no TCP fallback'}: ${wrongly.size} healthy members declared dead (${suspected.size} distinct suspicions, all refuted${wrongly.size ? ' except those' : ''})   expected 0   [${((systemClock.now() - wallStart) / 1000).toFixed(0)} s wall]`);
  await c.shutdown();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`Shoal gossip simulation: LAN profile (probe ${lan.probeIntervalMs} ms / timeout ${lan.probeTimeoutMs} ms, ` +
    `suspicion mult ${lan.suspicionMult}, gossip ${lan.gossipNodes} nodes every ${lan.gossipIntervalMs} ms, retransmit mult ${lan.retransmitMult}), ` +
    `0.5 ms one-way latency, seed ${args.seed}`);
  for (const n of args.sizes) {
    const wall = systemClock.now();
    console.log(`\nN = ${n}`);
    await dissemination(n, args.seed);
    for (const mode of ['loss5', 'loss20', 'slow5'] as const) await falsePositives(n, args.seed, args.minutes, mode, true);
    for (const mode of ['loss5', 'loss20'] as const) await falsePositives(n, args.seed, args.minutes, mode, false);
    console.log(`  (N = ${n} simulated in ${((systemClock.now() - wall) / 1000).toFixed(0)} s wall time)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
