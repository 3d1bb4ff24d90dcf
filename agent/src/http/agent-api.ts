/**
 * What the HTTP API needs from the agent. The agent implements it; route tests use a fake. Keeping
 * the contract here means the HTTP layer never reaches into the agent's internals.
 */
import type { CatalogReader, LocalServices } from '../catalog/types';
import type { ConfigEntries } from '../config-entries/types';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import type { JoinResult } from '../gossip/memberlist';
import type { Member } from '../gossip/member';
import type { ConnectCa } from './routes-connect';

/** One pool's answer to a keyring list or operation (Consul's KeyringResponse, camelCased). */
export interface KeyringReport {
  wan: boolean;
  datacenter: string;
  /** Base64 key to the number of members that hold it (list only). */
  keys: Record<string, number>;
  /** Base64 key to the number of members that use it as primary (list only). */
  primaryKeys: Record<string, number>;
  /** Members asked (alive and suspect, this node included). */
  numNodes: number;
  /** Members that answered. */
  numResponses: number;
  /** Members that answered with an error or did not answer. */
  numErrors: number;
  /** Node name to what went wrong there (an error, or no answer before the timeout). */
  messages: Record<string, string>;
}

/** A cluster keyring operation. */
export type KeyringOperation = 'install' | 'use' | 'remove';

/** What reload changed. */
export interface ReloadResult {
  /** Settings applied at once. */
  applied: string[];
  /** Settings that changed but need a restart. */
  restartRequired: string[];
}

/** `/v1/agent/self` data; `Member` is converted to Consul's shape by the route. */
export interface AgentSelf {
  config: {
    Datacenter: string;
    NodeName: string;
    NodeID: string;
    Server: boolean;
    Revision: string;
    Version: string;
    Region: string;
    Zone: string;
  };
  member: Member;
  stats: Record<string, Record<string, string>>;
}

/** The agent as the HTTP API sees it. */
export interface AgentApi {
  /** LAN members, this node included. */
  lanMembers(): Member[];
  /** WAN members; undefined on a client agent (not in the WAN pool). */
  wanMembers(): Member[] | undefined;
  self(): AgentSelf;
  /** Joins the LAN (or WAN) pool through the given `host[:port]` addresses. */
  join(addrs: string[], wan: boolean): Promise<JoinResult>;
  /** Gracefully leaves every pool; the agent shuts down after (see `shutdown`). */
  leave(): Promise<void>;
  /** Stops the agent (after a leave reply has been sent). */
  shutdown(): Promise<void>;
  /** Re-reads configuration and applies what can change at run time. */
  reload(): Promise<ReloadResult>;
  /** Lists keys across the cluster: the WAN pool first (servers), then the LAN pool. */
  keyringList(): Promise<KeyringReport[]>;
  /** Installs, uses or removes a base64 key on every member (WAN pool first on servers). */
  keyringOperation(op: KeyringOperation, key: string): Promise<KeyringReport[]>;
  /** Prometheus exposition. */
  metricsText(): Promise<{ contentType: string; text: string }>;
}

/**
 * The stores behind the service endpoints, passed to `apiRoutes` beside the agent. Each is optional:
 * the routes of a missing store are not mounted (their paths answer 404), so the agent can start its
 * API before (or without) a store, and route tests pass only the fakes they need.
 */
export interface ApiDependencies {
  /** `/v1/catalog/*`, `/v1/health/*`: the replicated catalog as this agent sees it. */
  catalog?: CatalogReader;
  /** `/v1/agent/services`, `/v1/agent/service/*`, `/v1/agent/checks`, `/v1/agent/check/*`: this agent's own registry. */
  local?: LocalServices;
  /** `/v1/config*`: the replicated config entry store. */
  configEntries?: ConfigEntries;
  /** `/v1/connect/ca/*`, `/v1/agent/connect/*`: the agent's CA (absent when the CA is off). */
  connect?: ConnectCa;
  /** `acl_agent_token`: lets callers off loopback read leaves (private keys); default none (loopback only). */
  agentToken?: string;
  /** Times blocking queries (`?index=&wait=`); default the system clock. */
  clock?: Clock;
  /** Jitters blocking-query waits by up to wait/16, as Consul does; default the system random source. */
  random?: Random;
}
