/**
 * Cluster queries (serf's queries, reduced to what keyring operations need): the origin broadcasts a
 * query through gossip; every member that receives it re-broadcasts it once, answers through its
 * handler, and sends the answer straight back to the origin over a stream. The origin collects
 * answers until every live member answered or the timeout passed.
 */
import type { TimerHandle } from '../core/clock';
import { encodeMessage } from './codec';
import type { GossipHost } from './host';
import type { QueryHandler, QueryResponse } from './member';
import type { QueryMessage, QueryResponseMessage } from './messages';

interface Pending {
  responses: Map<string, Uint8Array>;
  expected: number;
  timer: TimerHandle | undefined;
  resolve: (r: QueryResponse[]) => void;
}

/** Seen-query memory: bounded so a flood of distinct queries cannot grow it. */
const SEEN_LIMIT = 4096;

/** Sends, relays and answers queries. */
export class Queries {
  private readonly handlers = new Map<string, QueryHandler>();
  private readonly pending = new Map<number, Pending>();
  private readonly seen = new Set<string>();

  constructor(private readonly host: GossipHost) {}

  onQuery(name: string, handler: QueryHandler): void {
    this.handlers.set(name, handler);
  }

  /** Asks every live member; resolves with the answers, ours included, sorted by node name. */
  query(name: string, payload: Uint8Array, timeoutMs: number): Promise<QueryResponse[]> {
    const { clock, random, cfg } = this.host;
    const id = random.int(0x100000000);
    const msg: QueryMessage = {
      type: 'query', id, ltime: clock.wallNow(), originNode: cfg.nodeName, originAddr: this.host.localAddr(),
      name, payload, timeoutMs,
    };
    return new Promise((resolve) => {
      const p: Pending = { responses: new Map(), expected: this.host.membership.table.liveCount(), timer: undefined, resolve };
      p.timer = clock.setTimer(timeoutMs, () => this.settle(id));
      this.pending.set(id, p);
      this.handleQuery(msg);
    });
  }

  /** A query arrived (or we started one): relay it once, then answer it. */
  handleQuery(m: QueryMessage): void {
    const key = `${m.originNode}/${m.id}/${m.ltime}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= SEEN_LIMIT) this.seen.clear();
    this.seen.add(key);
    this.host.membership.broadcasts.queue(`q:${key}`, encodeMessage(m));
    const handler = this.handlers.get(m.name);
    if (!handler) return;
    Promise.resolve()
      .then(() => handler(m.payload, m.originNode))
      .then((payload) => this.respond(m, payload))
      .catch((err: unknown) => this.host.log.warn({ query: m.name, origin: m.originNode, err: String(err) }, 'query handler failed'));
  }

  handleResponse(m: QueryResponseMessage): void {
    const p = this.pending.get(m.id);
    if (!p || p.responses.has(m.fromNode)) return;
    p.responses.set(m.fromNode, m.payload);
    if (p.responses.size >= p.expected) this.settle(m.id);
  }

  /** Resolves every pending query with what it has (shutdown). */
  stop(): void {
    for (const id of [...this.pending.keys()]) this.settle(id);
  }

  private respond(m: QueryMessage, payload: Uint8Array): void {
    const resp: QueryResponseMessage = { type: 'queryResponse', id: m.id, ltime: m.ltime, fromNode: this.host.cfg.nodeName, payload };
    if (m.originNode === this.host.cfg.nodeName) {
      this.handleResponse(resp);
      return;
    }
    // Answers go over a stream: they must arrive even under packet loss, and may exceed a datagram.
    this.host.exchange(m.originAddr, resp, Math.min(m.timeoutMs, this.host.cfg.tcpTimeoutMs), false).catch((err: unknown) =>
      this.host.log.warn({ origin: m.originNode, err: String(err) }, 'could not deliver query answer'));
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.host.clock.clearTimer(p.timer);
    const out = [...p.responses].map(([node, payload]) => ({ node, payload }));
    out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    p.resolve(out);
  }
}
