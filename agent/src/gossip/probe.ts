/**
 * SWIM failure detection with Lifeguard (memberlist's probeNode): each probe interval, ping the next
 * member of a randomized round-robin; without an ack within the probe timeout, ask k others to ping it
 * (indirect probes, which also send nacks so we can tell our own slowness from the target's death) and
 * try a TCP ping; without any ack by the end of the interval, suspect it.
 *
 * Probes are callback-driven rather than async so the exact timer order holds on a virtual clock.
 */
import type { TimerHandle } from '../core/clock';
import type { GossipHost } from './host';
import type { AckMessage, IndirectPingMessage, NackMessage, PingMessage } from './messages';
import type { NodeRecord } from './state';

interface AckHandler {
  onAck: (payload: Uint8Array | undefined) => void;
  onNack: () => void;
  timer: TimerHandle | undefined;
}

/** Runs the probe loop and answers pings. */
export class Prober {
  private seq = 0;
  private readonly handlers = new Map<number, AckHandler>();
  private timer: TimerHandle | undefined;
  private stopped = true;

  constructor(private readonly host: GossipHost) {}

  start(): void {
    this.stopped = false;
    // Stagger the first probe so agents started together do not probe in lockstep.
    this.schedule(this.host.random.float() * this.host.cfg.probeIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    this.host.clock.clearTimer(this.timer);
    for (const h of this.handlers.values()) this.host.clock.clearTimer(h.timer);
    this.handlers.clear();
  }

  /** Answers a direct ping (UDP). Pings meant for another node name are dropped: the address moved. */
  handlePing(from: string, m: PingMessage): void {
    if (m.target !== '' && m.target !== this.host.cfg.nodeName) {
      this.host.metrics.dropped('unexpected', 'udp');
      return;
    }
    this.host.sendPacket(from, [{ type: 'ack', seqNo: m.seqNo }]);
  }

  /** Probes `target` for `m`'s sender and relays the ack, or a nack if the target stays silent. */
  handleIndirectPing(from: string, m: IndirectPingMessage): void {
    const { clock, cfg } = this.host;
    const seq = this.nextSeq();
    const handler: AckHandler = {
      onAck: () => {
        this.finishHandler(seq);
        this.host.sendPacket(from, [{ type: 'ack', seqNo: m.seqNo }]);
      },
      onNack: () => {},
      timer: clock.setTimer(cfg.probeTimeoutMs, () => {
        this.finishHandler(seq);
        if (m.nack) this.host.sendPacket(from, [{ type: 'nack', seqNo: m.seqNo }]);
      }),
    };
    this.handlers.set(seq, handler);
    this.host.sendPacket(m.targetAddr, [this.ping(seq, m.target)]);
  }

  handleAck(m: AckMessage): void {
    this.handlers.get(m.seqNo)?.onAck(m.payload);
  }

  handleNack(m: NackMessage): void {
    this.handlers.get(m.seqNo)?.onNack();
  }

  /** Answers a ping that arrived over a stream (the TCP fallback). */
  pingReply(m: PingMessage): AckMessage | undefined {
    if (m.target !== '' && m.target !== this.host.cfg.nodeName) return undefined;
    return { type: 'ack', seqNo: m.seqNo };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.host.clock.setTimer(delayMs, () => this.tick());
  }

  private tick(): void {
    const awareness = this.host.membership.awareness;
    const target = this.host.membership.table.nextProbeTarget();
    if (target) this.probe(target);
    // Lifeguard: a node with a poor health score probes less often, so it accuses less.
    this.schedule(awareness.scaleTimeout(this.host.cfg.probeIntervalMs));
  }

  /** One probe of `target`: direct, then indirect and TCP, then suspicion. */
  private probe(target: NodeRecord): void {
    const { clock, cfg, membership } = this.host;
    const awareness = membership.awareness;
    const probeTimeout = awareness.scaleTimeout(cfg.probeTimeoutMs);
    const probeInterval = awareness.scaleTimeout(cfg.probeIntervalMs);
    const seq = this.nextSeq();
    const sentAt = clock.now();
    const incarnation = target.incarnation;
    let phase: 'direct' | 'indirect' | 'done' = 'direct';
    let expectedNacks = 0;
    let nacks = 0;

    const finish = (ok: boolean, via: 'udp' | 'indirect' | 'tcp'): void => {
      if (phase === 'done') return;
      const wasDirect = phase === 'direct';
      phase = 'done';
      this.finishHandler(seq);
      if (ok) {
        if (wasDirect && via === 'udp') {
          this.host.metrics.probeRtt(clock.now() - sentAt);
          awareness.applyDelta(-1);
        } else if (via === 'tcp') {
          this.host.log.warn({ node: target.name, addr: target.addr },
            'member answered over TCP but not UDP; check that UDP is allowed on the gossip port');
        }
        return;
      }
      // Lifeguard: nacks from the helpers tell us they are fine and the target is not; each missing
      // nack suggests that we are the slow or cut-off one.
      awareness.applyDelta(expectedNacks > 0 ? expectedNacks - nacks : 1);
      if (target.incarnation !== incarnation || (target.state !== 'alive' && target.state !== 'suspect')) return;
      this.host.log.debug({ node: target.name, addr: target.addr }, 'probe failed; suspecting member');
      membership.suspectNode({ type: 'suspect', incarnation: target.incarnation, node: target.name, from: cfg.nodeName });
    };

    const handler: AckHandler = {
      onAck: () => finish(true, phase === 'direct' ? 'udp' : 'indirect'),
      onNack: () => { nacks++; },
      timer: clock.setTimer(probeTimeout, () => {
        if (phase !== 'direct') return;
        phase = 'indirect';
        expectedNacks = this.indirect(target, seq);
        this.tcpPing(target, probeInterval - probeTimeout, () => finish(true, 'tcp'));
        handler.timer = clock.setTimer(Math.max(0, probeInterval - probeTimeout), () => finish(false, 'indirect'));
      }),
    };
    this.handlers.set(seq, handler);

    const ping = this.ping(seq, target.name);
    if (target.state === 'suspect') {
      // Tell a suspected member directly, so it can refute before the suspicion expires.
      this.host.sendPacket(target.addr, [ping, {
        type: 'suspect', incarnation: target.incarnation, node: target.name, from: cfg.nodeName,
      }]);
    } else {
      this.host.sendPacket(target.addr, [ping]);
    }
  }

  /** Sends indirect ping requests; returns how many went out (the nacks we can expect). */
  private indirect(target: NodeRecord, seq: number): number {
    const { cfg } = this.host;
    const helpers = this.host.membership.table.randomMembers(
      cfg.indirectChecks, (r) => r.state === 'alive' && r.name !== target.name);
    for (const h of helpers) {
      this.host.sendPacket(h.addr, [{
        type: 'indirectPing', seqNo: seq, target: target.name, targetAddr: target.addr, nack: true,
        sourceNode: cfg.nodeName, sourceAddr: this.host.localAddr(),
      }]);
    }
    return helpers.length;
  }

  private tcpPing(target: NodeRecord, timeoutMs: number, onOk: () => void): void {
    if (this.host.cfg.disableTcpPings || timeoutMs <= 0) return;
    const seq = this.nextSeq();
    this.host.exchange(target.addr, this.ping(seq, target.name), timeoutMs, true).then(
      (reply) => { if (reply?.type === 'ack' && reply.seqNo === seq) onOk(); },
      () => { /* unreachable over TCP too: the probe fails at the deadline */ },
    );
  }

  private ping(seq: number, target: string): PingMessage {
    return { type: 'ping', seqNo: seq, target, sourceNode: this.host.cfg.nodeName, sourceAddr: this.host.localAddr() };
  }

  private finishHandler(seq: number): void {
    const h = this.handlers.get(seq);
    if (!h) return;
    this.host.clock.clearTimer(h.timer);
    this.handlers.delete(seq);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }
}
