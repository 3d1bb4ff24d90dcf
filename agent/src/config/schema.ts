/**
 * The configuration keys an operator may write, in Consul's names, and what each accepts. One table
 * drives parsing of HCL, JSON and flags alike, so a key added here is accepted everywhere and a key
 * missing here is refused everywhere ("unknown key").
 */
import { isIP } from 'node:net';
import type { GossipConfig } from '../gossip/config';
import { DURATION_EXPECTED } from './duration';

/** Returns what was expected when `value` is wrong, or undefined when it is fine. */
export type ValueCheck = (value: string) => string | undefined;

/** What one key accepts. */
export type FieldSpec =
  | { kind: 'string'; check?: ValueCheck; /** Never echo the value in problems (key material). */ secret?: boolean }
  | { kind: 'bool' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'duration' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list'; check?: ValueCheck }
  | { kind: 'block'; fields: Schema }
  /**
   * Passed through unchecked, per document, for the part that owns the shape to validate (service
   * and check definitions go to the local service registry, which validates them as a whole set).
   */
  | { kind: 'passthrough' };

/** A set of keys, one level of nesting. */
export type Schema = Readonly<Record<string, FieldSpec>>;

/** Node names: what memberlist accepts, and what DNS labels can mostly carry. */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Cluster (datacenter) names: no dots, because the WAN node name is `<node>.<datacenter>` and
 * because the name appears in SNI (`<svc>.<ns>.<dc>.internal.<trust-domain>`).
 */
export const DATACENTER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const checkIp: ValueCheck = (v) => (isIP(v) === 0 ? 'expected an IP address (such as 10.0.0.5 or ::1)' : undefined);

const checkNodeName: ValueCheck = (v) =>
  NODE_NAME_PATTERN.test(v) ? undefined : 'expected 1-128 characters of letters, digits, "-", "_" or "." starting with a letter or digit';

const checkDatacenter: ValueCheck = (v) =>
  DATACENTER_PATTERN.test(v) ? undefined : 'expected 1-64 characters of letters, digits, "-" or "_" starting with a letter or digit';

const checkLocality: ValueCheck = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v) ? undefined : 'expected 1-64 characters of letters, digits, "-", "_" or "."';

const checkUuid: ValueCheck = (v) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? undefined : 'expected a UUID such as 8f0b4c1e-...';

/** Gossip encryption keys: base64 of 16, 24 or 32 bytes (AES-128/192/256), as `shoal keygen` prints. */
export const checkGossipKey: ValueCheck = (v) => {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0 ? Buffer.from(v, 'base64').length : -1;
  return bytes === 16 || bytes === 24 || bytes === 32
    ? undefined
    : 'expected a base64 key of 16, 24 or 32 bytes (generate one with `shoal keygen`)';
};

/** Seeds for join: `host` or `host:port` (`[v6]:port`); cloud auto-join strings are not supported. */
export const checkJoinAddress: ValueCheck = (v) => {
  if (v.includes('=')) return 'expected host or host:port (cloud auto-join "provider=..." is not supported)';
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)|([0-9a-fA-F:]+))(?::(\d{1,5}))?$/.exec(v);
  if (m === null) return 'expected host or host:port';
  if (m[3] !== undefined && m[4] === undefined && isIP(m[3]) !== 6) return 'expected host or host:port';
  if (m[4] !== undefined && Number(m[4]) > 65535) return 'expected a port from 1 to 65535';
  return undefined;
};

/** One `gossip_lan` / `gossip_wan` key and the GossipConfig field it sets. */
export interface GossipKey {
  field: keyof GossipConfig;
  spec: FieldSpec;
}

const duration: FieldSpec = { kind: 'duration' };
const count: FieldSpec = { kind: 'int', min: 0, max: 1_000_000 };

/**
 * `gossip_lan { ... }` and `gossip_wan { ... }`: the first six are Consul's names; the rest expose
 * the remaining memberlist/serf knobs under the same naming style. Ranges beyond "a non-negative
 * number" are checked by validateGossipConfig on the merged result.
 */
export const GOSSIP_KEYS: Readonly<Record<string, GossipKey>> = {
  gossip_interval: { field: 'gossipIntervalMs', spec: duration },
  gossip_nodes: { field: 'gossipNodes', spec: count },
  probe_interval: { field: 'probeIntervalMs', spec: duration },
  probe_timeout: { field: 'probeTimeoutMs', spec: duration },
  retransmit_mult: { field: 'retransmitMult', spec: count },
  suspicion_mult: { field: 'suspicionMult', spec: count },
  suspicion_max_timeout_mult: { field: 'suspicionMaxTimeoutMult', spec: count },
  indirect_checks: { field: 'indirectChecks', spec: count },
  push_pull_interval: { field: 'pushPullIntervalMs', spec: duration },
  tcp_timeout: { field: 'tcpTimeoutMs', spec: duration },
  gossip_to_the_dead_time: { field: 'gossipToTheDeadMs', spec: duration },
  awareness_max_multiplier: { field: 'awarenessMaxMultiplier', spec: count },
  disable_tcp_pings: { field: 'disableTcpPings', spec: { kind: 'bool' } },
  udp_buffer_size: { field: 'udpBufferSize', spec: count },
  dead_reap_time: { field: 'deadReapMs', spec: duration },
  left_reap_time: { field: 'leftReapMs', spec: duration },
  reconnect_interval: { field: 'reconnectIntervalMs', spec: duration },
};

const gossipBlock: FieldSpec = {
  kind: 'block',
  fields: Object.fromEntries(Object.entries(GOSSIP_KEYS).map(([k, v]) => [k, v.spec])),
};

const port: FieldSpec = { kind: 'int', min: 0, max: 65535 };

const filePath: FieldSpec = { kind: 'string', check: (v) => (v.trim() === '' ? 'expected a file path' : undefined) };

/** SPIFFE trust domain names: lower-case letters, digits, '.', '-', '_' (at most 255 characters). */
export const checkTrustDomain: ValueCheck = (v) =>
  /^[a-z0-9._-]{1,255}$/.test(v) ? undefined : 'expected a trust domain: 1-255 lower-case letters, digits, ".", "-" or "_" (such as "shoal.example")';

/** `ca { ... }`: the agent's side of the distributed CA (cross-key rules are in agent-config.ts). */
const caBlock: FieldSpec = {
  kind: 'block',
  fields: {
    trust_domain: { kind: 'string', check: checkTrustDomain },
    bootstrap_token: { kind: 'string', secret: true, check: (v) => (v.trim().length < 16 ? 'expected a token of at least 16 characters' : undefined) },
    bootstrap_token_file: filePath,
    root_cert_file: filePath,
    intermediate_cert_file: filePath,
    intermediate_key_file: filePath,
    leaf_ttl: duration,
    sign_rate_per_sec: { kind: 'int', min: 1, max: 100_000 },
    sign_burst: { kind: 'int', min: 1, max: 100_000 },
  },
};

/** Intention default when no `service-intentions` entry matches. */
export const INTENTION_POLICIES = ['allow', 'deny'] as const;

/** Log levels, least to most severe. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

/** Base gossip profiles for the LAN pool (memberlist's LAN, local and WAN presets). */
export const GOSSIP_PROFILES = ['lan', 'local', 'wan'] as const;

/** Every key of an agent configuration file. */
export const AGENT_SCHEMA: Schema = {
  node_name: { kind: 'string', check: checkNodeName },
  node_id: { kind: 'string', check: checkUuid },
  datacenter: { kind: 'string', check: checkDatacenter },
  region: { kind: 'string', check: checkLocality },
  zone: { kind: 'string', check: checkLocality },
  bind_addr: { kind: 'string', check: checkIp },
  advertise_addr: { kind: 'string', check: checkIp },
  advertise_addr_wan: { kind: 'string', check: checkIp },
  client_addr: { kind: 'string', check: checkIp },
  ports: {
    kind: 'block',
    fields: { http: port, grpc: port, serf_lan: port, serf_wan: port, dns: port },
  },
  data_dir: { kind: 'string', check: (v) => (v.trim() === '' ? 'expected a directory path' : undefined) },
  encrypt: { kind: 'string', check: checkGossipKey, secret: true },
  encrypt_verify_incoming: { kind: 'bool' },
  encrypt_verify_outgoing: { kind: 'bool' },
  start_join: { kind: 'list', check: checkJoinAddress },
  start_join_wan: { kind: 'list', check: checkJoinAddress },
  retry_join: { kind: 'list', check: checkJoinAddress },
  retry_join_wan: { kind: 'list', check: checkJoinAddress },
  retry_interval: duration,
  retry_interval_wan: duration,
  retry_max: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
  retry_max_wan: { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
  server: { kind: 'bool' },
  log_level: { kind: 'enum', values: LOG_LEVELS },
  log_json: { kind: 'bool' },
  profile: { kind: 'enum', values: GOSSIP_PROFILES },
  gossip_lan: gossipBlock,
  gossip_wan: gossipBlock,
  ca: caBlock,
  default_intention_policy: { kind: 'enum', values: INTENTION_POLICIES },
  acl_agent_token: { kind: 'string', secret: true, check: (v) => (v.trim().length < 16 ? 'expected a token of at least 16 characters' : undefined) },
  // Consul's service definitions in agent config files; validated by the local service registry.
  service: { kind: 'passthrough' },
  services: { kind: 'passthrough' },
  check: { kind: 'passthrough' },
  checks: { kind: 'passthrough' },
};

/** Human description of what a spec accepts, for problems. */
export function expectedOf(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'string':
      return 'expected a string';
    case 'bool':
      return 'expected true or false';
    case 'int':
      return `expected an integer from ${spec.min} to ${spec.max}`;
    case 'duration':
      return DURATION_EXPECTED;
    case 'enum':
      return `expected one of ${spec.values.join(', ')}`;
    case 'list':
      return 'expected a list of strings';
    case 'block':
      return 'expected a block of settings';
    case 'passthrough':
      return 'expected a definition';
  }
}
