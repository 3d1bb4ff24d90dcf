/**
 * The `Sign` RPC's wire form: UTF-8 JSON in gRPC messages (ca/src/api.ts), with grpc-js custom
 * serializers so nothing loads a .proto at start. Decoders check the shape and sizes of what arrives
 * and never throw: grpc-js would turn a throwing deserializer into an opaque INTERNAL status, so a
 * bad message is carried to the handler (or the client) as a `DecodeFailure` and answered with a code.
 */
import type { SignRequest, SignResponse } from './api';
import { SIGN_METHOD } from './api';

/** Largest request the server reads: a CSR (8 KiB at most) plus JSON framing, with room to spare. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Largest response the client reads: a leaf plus a chain of a few certificates. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** A message that could not be decoded, and why. */
export interface DecodeFailure {
  decodeError: string;
}

/** True for a failed decode. */
export function isDecodeFailure(v: unknown): v is DecodeFailure {
  return typeof v === 'object' && v !== null && 'decodeError' in v;
}

function parseJson(buf: Buffer, max: number): unknown {
  if (buf.length > max) return { decodeError: `message is ${buf.length} bytes; at most ${max}` };
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    return { decodeError: 'message is not JSON' };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Encodes any message as JSON. */
export function encodeJson(msg: object): Buffer {
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

/** Decodes a `SignRequest`, checking field types; unknown fields are ignored (forward compatibility). */
export function decodeSignRequest(buf: Buffer): SignRequest | DecodeFailure {
  const v = parseJson(buf, MAX_REQUEST_BYTES);
  if (isDecodeFailure(v)) return v;
  if (!isObject(v)) return { decodeError: 'request is not a JSON object' };
  if (typeof v.csrPem !== 'string') return { decodeError: 'csrPem must be a string' };
  if (v.ttlMs !== undefined && (typeof v.ttlMs !== 'number' || !Number.isFinite(v.ttlMs) || v.ttlMs <= 0)) {
    return { decodeError: 'ttlMs must be a positive number of milliseconds' };
  }
  return v.ttlMs === undefined ? { csrPem: v.csrPem } : { csrPem: v.csrPem, ttlMs: v.ttlMs };
}

/** Decodes a `SignResponse`, checking every field the contract defines. */
export function decodeSignResponse(buf: Buffer): SignResponse | DecodeFailure {
  const v = parseJson(buf, MAX_RESPONSE_BYTES);
  if (isDecodeFailure(v)) return v;
  if (!isObject(v)) return { decodeError: 'response is not a JSON object' };
  const bad = (field: string): DecodeFailure => ({ decodeError: `response field ${field} is missing or has the wrong type` });
  if (typeof v.certPem !== 'string') return bad('certPem');
  if (!Array.isArray(v.chainPem) || !v.chainPem.every((c) => typeof c === 'string')) return bad('chainPem');
  if (typeof v.rootId !== 'string') return bad('rootId');
  if (typeof v.notBeforeMs !== 'number' || typeof v.notAfterMs !== 'number') return bad('notBeforeMs/notAfterMs');
  if (typeof v.serialHex !== 'string') return bad('serialHex');
  return {
    certPem: v.certPem,
    chainPem: v.chainPem as string[],
    rootId: v.rootId,
    notBeforeMs: v.notBeforeMs,
    notAfterMs: v.notAfterMs,
    serialHex: v.serialHex,
  };
}

/** The grpc-js service definition of `shoal.ca.v1.CA` (one unary method, `Sign`). */
export const caServiceDefinition = {
  Sign: {
    path: SIGN_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: (req: SignRequest): Buffer => encodeJson(req),
    requestDeserialize: decodeSignRequest,
    responseSerialize: (res: SignResponse): Buffer => encodeJson(res),
    responseDeserialize: decodeSignResponse,
    originalName: 'Sign',
  },
} as const;

/**
 * gRPC status for each wire code. notSigner is UNAVAILABLE: the client should try another server,
 * which is what UNAVAILABLE means to it (retryable), as RESOURCE_EXHAUSTED is for rateLimited.
 */
export const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  SHOAL_ERR_CSR_INVALID: 3, // INVALID_ARGUMENT
  SHOAL_ERR_CA_UNAUTHENTICATED: 16, // UNAUTHENTICATED
  SHOAL_ERR_CA_FORBIDDEN: 7, // PERMISSION_DENIED
  SHOAL_ERR_CA_RATE_LIMITED: 8, // RESOURCE_EXHAUSTED
  SHOAL_ERR_CA_NOT_SIGNER: 14, // UNAVAILABLE
  SHOAL_ERR_CA_INTERNAL: 13, // INTERNAL
};

/** gRPC statuses after which the same request may succeed later or elsewhere. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([14 /* UNAVAILABLE */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */]);

/** The status message carries the code first: "SHOAL_ERR_CA_FORBIDDEN: service web is not ...". */
export function statusMessage(code: string, message: string): string {
  return `${code}: ${message}`;
}

/** Splits a status message into its leading code (if it has one) and the rest. */
export function parseStatusMessage(details: string): { code: string | undefined; message: string } {
  const m = /^(SHOAL_ERR_[A-Z0-9_]+): ?([\s\S]*)$/.exec(details);
  return m === null ? { code: undefined, message: details } : { code: m[1], message: m[2]! };
}
