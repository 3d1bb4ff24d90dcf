/**
 * The CA's error type. Codes that cross the wire are the contract's `CaErrorCode` (ca/src/api.ts); the
 * local codes below describe failures that happen on one side only (transport, files, identities) so
 * callers can still switch on a stable code instead of matching message text.
 */
import { CaErrorCode } from './api';

/** Codes for failures that are not answers from a CA server. */
export const CaLocalErrorCode = {
  /** The server could not be reached, or the TLS handshake failed (including a wrong server identity). */
  unavailable: 'SHOAL_ERR_CA_UNAVAILABLE',
  /** No answer within the caller's timeout. */
  timeout: 'SHOAL_ERR_CA_TIMEOUT',
  /** The server failed on its own invariant, or answered with a status this client does not know. */
  internal: 'SHOAL_ERR_CA_INTERNAL',
  /** The server's answer did not have the contract's shape. */
  badResponse: 'SHOAL_ERR_CA_BAD_RESPONSE',
  /** A SPIFFE ID, trust domain or name does not follow the rules in spiffe.ts. */
  spiffeInvalid: 'SHOAL_ERR_SPIFFE_ID_INVALID',
  /** CA material (certificate or key file) is missing, malformed, mismatched or would be overwritten. */
  material: 'SHOAL_ERR_CA_MATERIAL',
} as const;

/** Every code a `CaError` can carry. */
export type CaErrorCodeValue =
  | (typeof CaErrorCode)[keyof typeof CaErrorCode]
  | (typeof CaLocalErrorCode)[keyof typeof CaLocalErrorCode];

/** A CA failure with a stable code; `retryable` says whether trying again (or another server) may succeed. */
export class CaError extends Error {
  override readonly name = 'CaError';

  constructor(
    readonly code: CaErrorCodeValue,
    message: string,
    readonly retryable = false,
    /** The gRPC status the error arrived with, on the client side. */
    readonly grpcStatus?: number,
  ) {
    super(message);
  }
}

/** True for a `CaError` carrying `code`. */
export function isCaError(err: unknown, code?: CaErrorCodeValue): err is CaError {
  return err instanceof CaError && (code === undefined || err.code === code);
}
