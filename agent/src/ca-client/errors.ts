/** Stable codes of the agent-side CA errors; the HTTP layer sends `status` and `code` as they are. */

export const CaClientErrorCode = {
  /** A leaf was asked for a service that is not registered on this agent. */
  serviceNotLocal: 'SHOAL_ERR_CA_SERVICE_NOT_LOCAL',
  /** No leaf could be obtained in time (no CA server reachable, or it refused). */
  leafUnavailable: 'SHOAL_ERR_CA_LEAF_UNAVAILABLE',
  /** The CA is not enabled on this agent (no `ca` settings). */
  disabled: 'SHOAL_ERR_CA_DISABLED',
  /** A rotation request that cannot be accepted (bad material, wrong agent, one already running). */
  rotationRefused: 'SHOAL_ERR_CA_ROTATION_REFUSED',
  /** A manual rotation step whose gate does not hold; the message names every blocker. */
  rotationUnsafe: 'SHOAL_ERR_CA_ROTATION_UNSAFE',
  /** Bad input to an authorize request. */
  badRequest: 'SHOAL_ERR_HTTP_BAD_REQUEST',
} as const;

/** An agent-side CA failure with the HTTP status it maps to. */
export class CaClientError extends Error {
  override readonly name = 'CaClientError';

  constructor(
    readonly code: (typeof CaClientErrorCode)[keyof typeof CaClientErrorCode],
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
