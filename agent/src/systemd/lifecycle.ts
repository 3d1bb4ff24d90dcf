/**
 * What the agent tells an observer about its lifecycle: the hook through which the systemd notifier
 * (and anything else that reports readiness, such as a future Kubernetes readiness probe) learns
 * when the agent is ready, reloading or stopping. The agent calls these synchronously; observers
 * must return at once and never throw.
 */

/** The agent's view that readiness reports read: Agent satisfies it. */
export interface AgentStatusSource {
  lanMembers(): readonly { readonly state: string }[];
  /** Undefined on agents that are not servers (no WAN pool). */
  wanMembers(): readonly { readonly state: string }[] | undefined;
  /** Services registered on this agent; optional until the catalog exists (then 0 is reported). */
  serviceCount?(): number;
}

/** Gossip pools, as named in logs and status lines. */
export type PoolName = 'lan' | 'wan';

/** Lifecycle events of one agent. */
export interface AgentLifecycle {
  /** Configuration loaded, listeners open, start_join done: the agent serves. */
  started(agent: AgentStatusSource): void;
  /** One retry_join attempt ended; `joined` when at least one seed answered. */
  joinAttempt(pool: PoolName, joined: boolean): void;
  /** A reload began (SIGHUP or `PUT /v1/agent/reload`). */
  reloading(): void;
  /** That reload ended, applied or failed: the agent serves with the configuration in force. */
  reloaded(): void;
  /** The agent began to stop; called before it leaves the cluster (and again, harmlessly, after). */
  stopping(): void;
}
