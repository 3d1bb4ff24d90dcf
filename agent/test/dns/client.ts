/** A small DNS client over real UDP and TCP sockets, built from the same packet library, for tests. */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { systemClock } from '../../src/core/clock';

let nextId = 1;

/** A query for `name`/`type`, with an EDNS OPT record advertising `ednsBytes` when given. */
export function query(name: string, type: string, opts: { ednsBytes?: number; ednsVersion?: number; rd?: boolean } = {}): Packet {
  const additionals: Answer[] = opts.ednsBytes === undefined ? [] : [{ name: '.', type: 'OPT', udpPayloadSize: opts.ednsBytes, ednsVersion: opts.ednsVersion ?? 0, flags: 0, options: [] }];
  return { id: nextId++ & 0xffff, type: 'query', flags: opts.rd === false ? 0 : packet.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], additionals };
}

/** Sends raw bytes over UDP and resolves with the raw reply, or undefined after `timeoutMs`. */
export function udpRaw(port: number, bytes: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = systemClock.setTimer(timeoutMs, () => {
      socket.close();
      resolve(undefined);
    });
    socket.once('message', (msg) => {
      systemClock.clearTimer(timer);
      socket.close();
      resolve(msg);
    });
    socket.send(bytes, port, '127.0.0.1');
  });
}

/** One query over UDP; also returns the reply's size. */
export async function udpQuery(port: number, q: Packet): Promise<DecodedPacket & { size: number }> {
  const raw = await udpRaw(port, packet.encode(q));
  if (raw === undefined) throw new Error('no UDP answer');
  return { ...packet.decode(raw), size: raw.length };
}

/**
 * Sends `chunks` over one TCP connection (each written separately) and resolves with the messages
 * read back, once `expect` of them arrived or the server closed the connection.
 */
export function tcpExchange(port: number, chunks: Buffer[], expect: number): Promise<{ replies: DecodedPacket[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const replies: DecodedPacket[] = [];
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ replies, closed });
    };
    socket.on('connect', () => {
      for (const c of chunks) socket.write(c);
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        replies.push(packet.decode(buf.subarray(2, 2 + len)));
        buf = buf.subarray(2 + len);
      }
      if (replies.length >= expect) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset is how the server refuses or cuts a connection: report it as closed.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish(true);
      else if (!done) reject(err);
    });
  });
}

/** One query over TCP. */
export async function tcpQuery(port: number, q: Packet): Promise<DecodedPacket> {
  const { replies } = await tcpExchange(port, [packet.streamEncode(q)], 1);
  if (replies[0] === undefined) throw new Error('no TCP answer');
  return replies[0];
}

/** The data of the answers of one type, sorted, for order-independent comparisons. */
export function dataOf(records: readonly Answer[], type: string): string[] {
  return records.filter((r) => r.type === type).map((r) => (typeof r.data === 'string' ? r.data : JSON.stringify(r.data))).sort();
}
