/**
 * The agent's error catalogue. Codes are stable; `status` is the HTTP status an API reply uses when
 * the error reaches one.
 */

/** Stable codes of agent failures. */
export const AgentErrorCode = {
  /** The data directory cannot be created, read or written. */
  dataDir: 'SHOAL_ERR_DATA_DIR',
  /** The persisted keyring file is unreadable or corrupt. */
  keyringFile: 'SHOAL_ERR_KEYRING_FILE',
  /** A keyring operation while gossip encryption is off. */
  keyringDisabled: 'SHOAL_ERR_KEYRING_DISABLED',
  /** A keyring operation named an invalid key. */
  keyringKey: 'SHOAL_ERR_KEYRING_KEY',
  /** Joining failed (start_join, or an explicit join through the API). */
  join: 'SHOAL_ERR_JOIN',
  /** retry_join used up retry_max attempts. */
  retryJoinExhausted: 'SHOAL_ERR_RETRY_JOIN_EXHAUSTED',
  /** A gossip or HTTP socket could not be bound. */
  bind: 'SHOAL_ERR_BIND',
  /** A WAN operation on an agent that is not a server. */
  notServer: 'SHOAL_ERR_NOT_SERVER',
  /** The agent is not running (not started yet, or shutting down). */
  notRunning: 'SHOAL_ERR_AGENT_NOT_RUNNING',
} as const;

/** A value of AgentErrorCode. */
export type AgentErrorCodeValue = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** An agent failure with a stable code and the HTTP status to report it with. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCodeValue,
    message: string,
    readonly status = 500,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
