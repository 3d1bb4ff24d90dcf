/**
 * The agent's DNS server: UDP and TCP on one port (`client_addr:ports.dns`, 7600 by default),
 * authoritative for `<domain>.` only, answering from the catalog (see answer.ts for the names).
 *
 * - Over UDP a response is limited to 512 bytes, or to the client's EDNS buffer size (capped at
 *   `maxUdpBytes`); a larger one keeps the answers that fit, drops the additional section and sets
 *   TC, so the client retries over TCP, where up to 65535 bytes go out.
 * - Names outside the domain get REFUSED: the agent is not a recursive resolver.
 * - Bad input is counted and dropped: datagrams that do not parse, responses, oversized queries.
 *   Over TCP a bad message closes the connection. Queries are at most `maxQueryBytes`.
 * - TCP connections are capped (`maxTcpConnections`; more are closed at accept) and closed after
 *   `tcpIdleTimeoutMs` without a query by one coarse sweep timer, not a timer per connection.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import type { CatalogReader } from '../catalog/types';
import type { Clock, TimerHandle } from '../core/clock';
import { noopLogger, RateLimitedLog, type Logger } from '../core/logger';
import { systemRandom, type Random } from '../core/random';
import { answerQuestion, Rcode, type AnswerOptions } from './answer';

/** Options of DnsServer. */
export interface DnsServerOptions {
  catalog: CatalogReader;
  /** This agent's datacenter: names without a datacenter label mean it. */
  datacenter: string;
  /** The zone served, without dots at the ends; default 'shoal'. */
  domain?: string;
  clock: Clock;
  logger?: Logger;
  /** Shuffles answers; default the system random source. */
  random?: Random;
  /** TTL of service records, seconds; default 0 (Consul's `service_ttl`): health changes show at once. */
  serviceTtlSec?: number;
  /** TTL of node and address records, seconds; default 0 (Consul's `node_ttl`). */
  nodeTtlSec?: number;
  /** Hide instances with a warning check too; default false (Consul's `only_passing`). */
  onlyPassing?: boolean;
  /** Largest UDP response even when EDNS offers more; default 4096 (above it, fragmentation risk). */
  maxUdpBytes?: number;
  /** Largest query accepted, bytes; default 4096 (a query with EDNS options is a few hundred). */
  maxQueryBytes?: number;
  /** Concurrent TCP connections; default 128. */
  maxTcpConnections?: number;
  /** A TCP connection without a query for this long is closed; default 10 000 ms (RFC 7766 §6.2.3). */
  tcpIdleTimeoutMs?: number;
}

/** Counters a metrics layer can export. */
export interface DnsStats {
  /** Queries answered, by transport. */
  udpQueries: number;
  tcpQueries: number;
  nxdomain: number;
  refused: number;
  /** UDP responses cut to fit, with TC set. */
  truncated: number;
  /** Input dropped without an answer. */
  droppedMalformed: number;
  droppedOversize: number;
  droppedResponse: number;
  /** TCP connections closed at accept (over the cap) and for idleness. */
  tcpRejected: number;
  tcpIdleClosed: number;
}

/** The classic DNS-over-UDP limit without EDNS (RFC 1035 §4.2.1). */
const CLASSIC_UDP_BYTES = 512;
/** DNS-over-TCP messages carry a 16-bit length. */
const MAX_TCP_BYTES = 65535;
/** A TCP client that does not read its answers gets this much buffered before it is cut off. */
const MAX_TCP_BACKLOG_BYTES = 256 * 1024;
/** Header bits (RFC 1035 §4.1.1). */
const OPCODE_SHIFT = 11;
/** BADVERS (16) is extended rcode 1 with header rcode 0 (RFC 6891 §6.1.3). */
const EXTENDED_RCODE_BADVERS = 1;

interface TcpConn {
  socket: Socket;
  pending: Buffer;
  lastActiveMs: number;
}

/** The DNS server. */
export class DnsServer {
  private readonly answerOpts: AnswerOptions;
  private readonly log: Logger;
  private readonly badLog: RateLimitedLog;
  private readonly maxUdpBytes: number;
  private readonly maxQueryBytes: number;
  private readonly maxTcpConnections: number;
  private readonly idleMs: number;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<TcpConn>();
  private sweepTimer: TimerHandle | undefined;
  private bound: { host: string; port: number } | undefined;
  private readonly counters: DnsStats = {
    udpQueries: 0, tcpQueries: 0, nxdomain: 0, refused: 0, truncated: 0,
    droppedMalformed: 0, droppedOversize: 0, droppedResponse: 0, tcpRejected: 0, tcpIdleClosed: 0,
  };

  constructor(private readonly opts: DnsServerOptions) {
    const domain = (opts.domain ?? 'shoal').toLowerCase().replace(/^\.+|\.+$/g, '');
    if (domain === '' || !domain.split('.').every((l) => /^[a-z0-9-]{1,63}$/.test(l))) {
      throw Object.assign(new Error(`DNS domain ${JSON.stringify(opts.domain)} is not a valid domain name`), { code: 'SHOAL_ERR_CONFIG_INVALID' });
    }
    this.answerOpts = {
      domain,
      datacenter: opts.datacenter.toLowerCase(),
      serviceTtlSec: ttl(opts.serviceTtlSec),
      nodeTtlSec: ttl(opts.nodeTtlSec),
      onlyPassing: opts.onlyPassing ?? false,
      random: opts.random ?? systemRandom,
    };
    this.log = opts.logger ?? noopLogger;
    this.badLog = new RateLimitedLog(() => opts.clock.now());
    this.maxUdpBytes = Math.max(CLASSIC_UDP_BYTES, opts.maxUdpBytes ?? 4096);
    this.maxQueryBytes = opts.maxQueryBytes ?? 4096;
    this.maxTcpConnections = opts.maxTcpConnections ?? 128;
    this.idleMs = opts.tcpIdleTimeoutMs ?? 10_000;
  }

  /**
   * Listens on UDP and TCP at `host:port`. With port 0 both get the same free port (UDP picks it,
   * TCP follows; on the rare clash a new one is picked). Rejects naming the address when taken.
   */
  async start(host: string, port: number): Promise<void> {
    if (this.bound !== undefined) throw new Error('DNS server already started');
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(host, port);
      const udpPort = udp.address().port;
      try {
        this.tcp = await this.bindTcp(host, udpPort);
        this.udp = udp;
        this.bound = { host, port: udpPort };
        return;
      } catch (err) {
        udp.close();
        if (port !== 0 || attempt >= 4) throw err;
      }
    }
  }

  /** The bound address (the real port when started with 0). */
  address(): { host: string; port: number } {
    if (this.bound === undefined) throw new Error('DNS server not started');
    return { ...this.bound };
  }

  /** Counters since start. */
  stats(): DnsStats {
    return { ...this.counters };
  }

  /** Closes both listeners and every TCP connection. */
  async stop(): Promise<void> {
    this.opts.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    this.bound = undefined;
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp === undefined ? undefined : new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  /**
   * The response to one query message, or undefined to drop it. Exposed for tests and fuzzing: it
   * never throws on bad input.
   */
  respond(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    if (message.length > this.maxQueryBytes) return this.drop('droppedOversize', 'oversized query');
    let query: DecodedPacket;
    try {
      query = packet.decode(message);
    } catch {
      return this.drop('droppedMalformed', 'malformed query');
    }
    if (query.type !== 'query') return this.drop('droppedResponse', 'a response sent to the DNS port');
    const reply = this.reply(query);
    const limit = transport === 'tcp' ? MAX_TCP_BYTES : this.udpLimit(query);
    if (transport === 'tcp') this.counters.tcpQueries++;
    else this.counters.udpQueries++;
    try {
      return this.encodeWithin(reply, limit);
    } catch (err) {
      // Our own records failed to encode: a bug, but one query's, not the server's.
      this.log.error({ err: (err as Error).message, name: query.questions[0]?.name }, 'DNS response could not be encoded');
      return packet.encode({ id: query.id, type: 'response', flags: this.headerFlags(query, Rcode.servFail) });
    }
  }

  private reply(query: DecodedPacket): Packet {
    const edns = query.additionals.find((a) => a.type === 'OPT');
    const opt: Answer[] = edns === undefined ? [] : [{ name: '.', type: 'OPT', udpPayloadSize: this.maxUdpBytes, flags: 0, options: [] }];
    const base = { id: query.id, type: 'response' as const };
    const question = query.questions[0];
    if (query.opcode !== 'QUERY') return { ...base, flags: this.headerFlags(query, Rcode.notImp), additionals: opt };
    if (query.questions.length !== 1 || question === undefined || !echoable(question.name)) {
      return { ...base, flags: this.headerFlags(query, Rcode.formErr), additionals: opt };
    }
    if (edns !== undefined && (edns.ednsVersion ?? 0) > 0) {
      return { ...base, flags: this.headerFlags(query, Rcode.noError), questions: [question], additionals: [{ ...opt[0]!, extendedRcode: EXTENDED_RCODE_BADVERS }] };
    }
    if (question.class !== 'IN' && question.class !== 'ANY') {
      this.counters.refused++;
      return { ...base, flags: this.headerFlags(query, Rcode.refused), questions: [question], additionals: opt };
    }
    const a = answerQuestion(this.opts.catalog, question, this.answerOpts);
    if (a.rcode === Rcode.nxDomain) this.counters.nxdomain++;
    if (a.rcode === Rcode.refused) this.counters.refused++;
    return {
      ...base,
      flags: this.headerFlags(query, a.rcode, a.rcode !== Rcode.refused),
      questions: [question],
      answers: a.answers,
      authorities: a.authorities,
      additionals: [...a.additionals, ...opt],
    };
  }

  /** Response header bits: the query's opcode and RD, AA when authoritative, and the rcode. */
  private headerFlags(query: DecodedPacket, rcode: number, authoritative = true): number {
    const opcode = (query.flags >> OPCODE_SHIFT) & 0xf;
    return (opcode << OPCODE_SHIFT) | (authoritative ? packet.AUTHORITATIVE_ANSWER : 0) | (query.flag_rd ? packet.RECURSION_DESIRED : 0) | rcode;
  }

  /** 512 without EDNS; with it, the client's buffer size within [512, maxUdpBytes]. */
  private udpLimit(query: DecodedPacket): number {
    const edns = query.additionals.find((a) => a.type === 'OPT');
    if (edns === undefined) return CLASSIC_UDP_BYTES;
    return Math.min(this.maxUdpBytes, Math.max(CLASSIC_UDP_BYTES, edns.udpPayloadSize ?? CLASSIC_UDP_BYTES));
  }

  /**
   * Encodes `reply`, or when it exceeds `limit` bytes, the answers that fit (and the OPT record)
   * without the other additional records, with TC set. Record sizes are measured once: O(records).
   */
  private encodeWithin(reply: Packet, limit: number): Buffer {
    if (packet.encodingLength(reply) <= limit) return packet.encode(reply);
    this.counters.truncated++;
    const opt = (reply.additionals ?? []).filter((a) => a.type === 'OPT');
    const fixed = packet.encodingLength({ ...reply, answers: [], additionals: opt });
    const answers: Answer[] = [];
    let size = fixed;
    for (const a of reply.answers ?? []) {
      size += packet.answer.encodingLength(a);
      if (size > limit) break;
      answers.push(a);
    }
    return packet.encode({ ...reply, flags: (reply.flags ?? 0) | packet.TRUNCATED_RESPONSE, answers, additionals: opt });
  }

  private drop(counter: 'droppedMalformed' | 'droppedOversize' | 'droppedResponse', what: string): undefined {
    this.counters[counter]++;
    const suppressed = this.badLog.admit(counter);
    if (suppressed >= 0) this.log.warn({ suppressed }, `DNS: dropped ${what}`);
    return undefined;
  }

  // ---- UDP ----

  private bindUdp(host: string, port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.close();
        reject(bindError('UDP', host, port, err));
      };
      socket.once('error', onError);
      socket.on('message', (msg, rinfo) => this.onDatagram(socket, msg, rinfo));
      socket.bind(port, host, () => {
        socket.off('error', onError);
        socket.on('error', (err) => this.log.warn({ err: err.message }, 'DNS UDP socket error'));
        resolve(socket);
      });
    });
  }

  private onDatagram(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const out = this.respond(msg, 'udp');
    if (out === undefined) return;
    socket.send(out, rinfo.port, rinfo.address, (err) => {
      if (err !== null && err !== undefined) this.log.debug({ err: err.message }, 'DNS UDP send failed');
    });
  }

  // ---- TCP ----

  private bindTcp(host: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.onConnection(socket));
      server.once('error', (err: NodeJS.ErrnoException) => reject(bindError('TCP', host, port, err)));
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.warn({ err: err.message }, 'DNS TCP listener error'));
        resolve(server);
      });
    });
  }

  private onConnection(socket: Socket): void {
    if (this.conns.size >= this.maxTcpConnections) {
      this.counters.tcpRejected++;
      socket.destroy();
      return;
    }
    const conn: TcpConn = { socket, pending: Buffer.alloc(0), lastActiveMs: this.opts.clock.now() };
    this.conns.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onTcpData(conn, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.conns.delete(conn));
    this.scheduleSweep();
  }

  /** Frames length-prefixed messages (RFC 1035 §4.2.2), any number per chunk, split anywhere. */
  private onTcpData(conn: TcpConn, chunk: Buffer): void {
    conn.lastActiveMs = this.opts.clock.now();
    conn.pending = conn.pending.length === 0 ? chunk : Buffer.concat([conn.pending, chunk]);
    while (conn.pending.length >= 2) {
      const len = conn.pending.readUInt16BE(0);
      if (len > this.maxQueryBytes) {
        this.drop('droppedOversize', 'oversized TCP query');
        conn.socket.destroy();
        return;
      }
      if (conn.pending.length < 2 + len) return;
      const message = conn.pending.subarray(2, 2 + len);
      conn.pending = conn.pending.subarray(2 + len);
      const out = this.respond(message, 'tcp');
      if (out === undefined) {
        // The stream can no longer be trusted to be in step: close it (RFC 7766 §6.2.4 allows it).
        conn.socket.destroy();
        return;
      }
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(out.length);
      conn.socket.write(Buffer.concat([prefix, out]));
      if (conn.socket.writableLength > MAX_TCP_BACKLOG_BYTES) {
        conn.socket.destroy();
        return;
      }
    }
  }

  /** One timer for all connections: every half idle period, close those idle for a full one. */
  private scheduleSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = this.opts.clock.setTimer(this.idleMs / 2, () => {
      this.sweepTimer = undefined;
      const now = this.opts.clock.now();
      for (const c of this.conns) {
        if (now - c.lastActiveMs >= this.idleMs) {
          this.counters.tcpIdleClosed++;
          c.socket.destroy();
          this.conns.delete(c);
        }
      }
      if (this.conns.size > 0) this.scheduleSweep();
    });
  }
}

/** A TTL in whole seconds within DNS's 31-bit range (RFC 2181 §8); 0 when unset. */
function ttl(sec: number | undefined): number {
  return sec === undefined || !Number.isFinite(sec) ? 0 : Math.min(0x7fffffff, Math.max(0, Math.floor(sec)));
}

/** True when a decoded question name can be sent back as it is: printable ASCII, labels of 1 to 63 bytes. */
function echoable(name: string): boolean {
  if (name === '.' || name === '') return true;
  if (!/^[\x21-\x7e]+$/.test(name) || name.length > 253) return false;
  return name.split('.').every((l) => l.length >= 1 && l.length <= 63);
}

function bindError(proto: string, host: string, port: number, err: NodeJS.ErrnoException): Error {
  const addr = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : err.message;
  return Object.assign(new Error(`cannot listen for DNS over ${proto} on ${addr}: ${why}`), { code: 'SHOAL_ERR_DNS_BIND' });
}
