/**
 * Types for the parts of `dns-packet` (5.x, which ships no declarations) that Shoal uses: whole
 * messages, questions, resource records of the types DNS answers with, and EDNS OPT records.
 */
declare module 'dns-packet' {
  /** A question: `name` without the trailing dot, `type` such as 'A', 'SRV' or 'UNKNOWN_65'. */
  export interface Question {
    name: string;
    type: string;
    class?: string;
  }

  /** SRV record data (RFC 2782). */
  export interface SrvData {
    priority?: number;
    weight?: number;
    port: number;
    target: string;
  }

  /** SOA record data. */
  export interface SoaData {
    mname: string;
    rname: string;
    serial?: number;
    refresh?: number;
    retry?: number;
    expire?: number;
    minimum?: number;
  }

  /** A resource record; OPT records (name '.') use the EDNS fields instead of class, ttl and data. */
  export interface Answer {
    name: string;
    type: string;
    class?: string;
    ttl?: number;
    flush?: boolean;
    data?: unknown;
    udpPayloadSize?: number;
    extendedRcode?: number;
    ednsVersion?: number;
    flags?: number;
    flag_do?: boolean;
    options?: unknown[];
  }

  /** A message to encode. `flags` holds the header bits below QR, the opcode and the rcode included. */
  export interface Packet {
    id?: number;
    type?: 'query' | 'response';
    flags?: number;
    questions?: Question[];
    answers?: Answer[];
    authorities?: Answer[];
    additionals?: Answer[];
  }

  /** A decoded message, with the header bits spelt out. */
  export interface DecodedPacket extends Packet {
    id: number;
    type: 'query' | 'response';
    flags: number;
    opcode: string;
    rcode: string;
    flag_qr: boolean;
    flag_aa: boolean;
    flag_tc: boolean;
    flag_rd: boolean;
    flag_ra: boolean;
    flag_ad: boolean;
    flag_cd: boolean;
    questions: Question[];
    answers: Answer[];
    authorities: Answer[];
    additionals: Answer[];
  }

  /** Per-record codec. */
  export const answer: { encodingLength(a: Answer): number };
  export const question: { encodingLength(q: Question): number };

  export function encode(packet: Packet, buf?: Buffer, offset?: number): Buffer;
  export function decode(buf: Buffer, offset?: number): DecodedPacket;
  export function encodingLength(packet: Packet): number;
  /** Encodes with the 2-byte length prefix of DNS over TCP. */
  export function streamEncode(packet: Packet): Buffer;
  /** Decodes a length-prefixed message; null when the buffer is shorter than the prefix says. */
  export function streamDecode(buf: Buffer): DecodedPacket | null;

  export const AUTHORITATIVE_ANSWER: number;
  export const TRUNCATED_RESPONSE: number;
  export const RECURSION_DESIRED: number;
  export const RECURSION_AVAILABLE: number;
  export const AUTHENTIC_DATA: number;
  export const CHECKING_DISABLED: number;
  export const DNSSEC_OK: number;
}
