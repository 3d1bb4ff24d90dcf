/**
 * The agent's configuration: one typed, frozen object built from defaults, dev-mode defaults,
 * config files and directories (in command-line order) and flags, validated once with every problem
 * collected.
 *
 * Defaults worth knowing:
 * - `client_addr` (the HTTP API) defaults to 127.0.0.1, except that when `bind_addr` is a specific
 *   loopback address (127.0.0.2, ::1) and `client_addr` is not set, the API binds to `bind_addr`
 *   too. Several agents can then run on one machine, each on its own 127.0.0.x with default ports,
 *   without their HTTP listeners colliding on 127.0.0.1:7500.
 * - A port of 0 asks the OS for a free port (tests); the real port is announced in the tags.
 * - `data_dir` is required unless in dev mode, where a temporary directory is used.
 */
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { resolve } from 'node:path';
import {
  defaultLanConfig,
  defaultLocalConfig,
  defaultWanConfig,
  validateGossipConfig,
  type GossipConfig,
} from '../gossip/config';
import { formatDurationMs } from './duration';
import { ConfigError, type ConfigProblem } from './errors';
import { flagsToDocument, type FlagValues } from './flags';
import { mergeLayers, readLayer, type Layer } from './layer';
import { buildCaConfig, type CaConfig, type IntentionPolicy } from './ca-config';
import { AGENT_SCHEMA, GOSSIP_KEYS, NODE_NAME_PATTERN, type GOSSIP_PROFILES, type LOG_LEVELS } from './schema';
import { readConfigPaths, type ConfigPath, type ParsedDocument } from './sources';

/** pino's level names that an operator may choose. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Base timing profile of the LAN pool. */
export type GossipProfile = (typeof GOSSIP_PROFILES)[number];

/** Ports, each 0 for "any free port". */
export interface PortsConfig {
  /** HTTP API, /metrics: 7500. */
  readonly http: number;
  /** gRPC (CSR signing, later xDS): 7501. */
  readonly grpc: number;
  /** LAN gossip, UDP and TCP: 7301. */
  readonly serfLan: number;
  /** WAN gossip, UDP and TCP (servers): 7302. */
  readonly serfWan: number;
  /** DNS: 7600. */
  readonly dns: number;
}

/** The validated, frozen agent configuration. Durations are milliseconds. */
export interface AgentConfig {
  /** Unique node name in the cluster; default: the host name. */
  readonly nodeName: string;
  /** Fixed node ID (UUID); undefined means generate once and keep in `<data_dir>/node-id`. */
  readonly nodeId: string | undefined;
  /** Cluster name and LAN gossip label; default dc1. */
  readonly datacenter: string;
  /** Region tag, for locality-aware routing. */
  readonly region: string | undefined;
  /** Zone tag, for locality-aware routing. */
  readonly zone: string | undefined;
  /** Address the gossip sockets bind; default 0.0.0.0. */
  readonly bindAddr: string;
  /** Address announced to LAN peers; undefined means the bind address (or a private IP when bound to any). */
  readonly advertiseAddr: string | undefined;
  /** Address announced to WAN peers; undefined means the LAN advertise address. */
  readonly advertiseAddrWan: string | undefined;
  /** Address of the HTTP API; see the module comment for the loopback rule. */
  readonly clientAddr: string;
  readonly ports: PortsConfig;
  /** Absolute path of the data directory; undefined only in dev mode (a temporary one is made). */
  readonly dataDir: string | undefined;
  /** Dev mode: server, loopback, local gossip profile, throwaway data directory. */
  readonly dev: boolean;
  /** Gossip key (base64) that seeds the keyring file when none exists yet. Never log it. */
  readonly encrypt: string | undefined;
  /** Refuse unencrypted gossip when a keyring is installed; default true. */
  readonly encryptVerifyIncoming: boolean;
  /** Encrypt outgoing gossip when a keyring is installed; default true. */
  readonly encryptVerifyOutgoing: boolean;
  /** LAN addresses joined once at start; the start fails if none answers. */
  readonly startJoin: readonly string[];
  /** WAN addresses joined once at start (servers). */
  readonly startJoinWan: readonly string[];
  /** LAN addresses joined in the background with backoff until one answers. */
  readonly retryJoin: readonly string[];
  /** WAN addresses joined in the background with backoff (servers). */
  readonly retryJoinWan: readonly string[];
  /** Longest wait between LAN join attempts (backoff cap): 30 s. */
  readonly retryIntervalMs: number;
  /** LAN join attempts before the agent gives up and stops; 0 = forever. */
  readonly retryMax: number;
  /** Longest wait between WAN join attempts: 30 s. */
  readonly retryIntervalWanMs: number;
  /** WAN join attempts before giving up; 0 = forever. */
  readonly retryMaxWan: number;
  /** Server role: CA signing for the cluster, member of the WAN pool. */
  readonly server: boolean;
  readonly logLevel: LogLevel;
  /** JSON log lines (default) or a human-readable line format. */
  readonly logJson: boolean;
  /** Base profile the LAN pool's timings start from. */
  readonly profile: GossipProfile;
  /** LAN pool settings: node name, label = datacenter, profile plus `gossip_lan` overrides. */
  readonly gossipLan: Readonly<GossipConfig>;
  /** WAN pool settings: node name `<node>.<datacenter>`, label `shoal-wan`, WAN profile plus `gossip_wan`. */
  readonly gossipWan: Readonly<GossipConfig>;
  /** The distributed CA (`ca { ... }`); undefined when no CA setting is given outside dev mode. */
  readonly ca: CaConfig | undefined;
  /** Authorization when no `service-intentions` entry matches: allow in dev, deny otherwise. */
  readonly defaultIntentionPolicy: IntentionPolicy;
  /**
   * `acl_agent_token`: a caller that is not on loopback must send it (`X-Consul-Token` or
   * `Authorization: Bearer`) to read leaf certificates and their private keys; undefined: loopback only.
   */
  readonly aclAgentToken: string | undefined;
  /** Config files read, in order (for /v1/agent/self and logs). */
  readonly sources: readonly string[];
  /**
   * The `service`, `services`, `check` and `checks` blocks of each file that has any, in file order,
   * as written (`raw` holds only those keys). Unchecked here: the local service registry validates
   * them as one set (`LocalRegistry.loadFiles`) and refuses the whole set on any problem.
   */
  readonly serviceDefinitions: readonly ParsedDocument[];
}

/** Label of the WAN pool: one pool across every cluster. */
export const WAN_LABEL = 'shoal-wan';

/** Where configuration comes from, lowest precedence first. */
export interface LoadConfigOptions {
  /** `-config-file` and `-config-dir` arguments in command-line order. */
  paths?: readonly ConfigPath[];
  /** Already-parsed documents applied after the files (for embedding and tests). */
  documents?: readonly ParsedDocument[];
  /** Flag values (override everything else). */
  flags?: FlagValues;
  /** Dev mode defaults under everything else. */
  dev?: boolean;
  /** Default node name; the host name unless given. */
  hostname?: string;
}

/** Reads, merges and validates; throws ConfigError (SHOAL_ERR_CONFIG_INVALID) listing every problem. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<AgentConfig> {
  const read = await readConfigPaths(opts.paths ?? []);
  const problems: ConfigProblem[] = [...read.problems];
  const layers: Layer[] = [];
  const dev = opts.dev === true;
  if (dev) layers.push(readLayer(DEV_DEFAULTS, AGENT_SCHEMA, { source: 'dev mode' }).layer);
  const serviceDefinitions: ParsedDocument[] = [];
  for (const doc of [...read.docs, ...(opts.documents ?? [])]) {
    const r = readLayer(doc.raw, AGENT_SCHEMA, { source: doc.source });
    layers.push(r.layer);
    problems.push(...r.problems);
    if (Object.keys(r.passthrough).length > 0) serviceDefinitions.push({ source: doc.source, raw: r.passthrough });
  }
  if (opts.flags !== undefined) {
    const { raw, label } = flagsToDocument(opts.flags);
    const r = readLayer(raw, AGENT_SCHEMA, { source: 'command line', label, coerceStrings: true });
    layers.push(r.layer);
    problems.push(...r.problems);
  }
  const sources = read.docs.map((d) => d.source);
  const built = buildConfig(mergeLayers(layers), { dev, hostname: opts.hostname ?? osHostname(), sources, serviceDefinitions });
  problems.push(...built.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return built.config;
}

/** What `-dev` changes, under files and flags: a single-machine server on loopback with fast gossip. */
const DEV_DEFAULTS = { server: true, bind_addr: '127.0.0.1', profile: 'local' };

const PROFILES: Record<GossipProfile, (node: string, label: string) => GossipConfig> = {
  lan: defaultLanConfig,
  local: defaultLocalConfig,
  wan: defaultWanConfig,
};

/** Builds the typed config from merged settings and checks what spans several keys. */
export function buildConfig(
  merged: Layer,
  opts: { dev: boolean; hostname: string; sources: readonly string[]; serviceDefinitions?: readonly ParsedDocument[] },
): { config: AgentConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const get = <T>(path: string, fallback: T): T => (merged.get(path)?.value as T | undefined) ?? fallback;
  const has = (path: string): boolean => merged.has(path);
  const origin = (path: string): { source: string; field: string } => {
    const s = merged.get(path);
    return s === undefined ? { source: 'configuration', field: path } : { source: s.source, field: s.label };
  };

  const nodeName = get('node_name', opts.hostname);
  if (!has('node_name') && !NODE_NAME_PATTERN.test(nodeName)) {
    problems.push({ source: 'defaults', field: 'node_name', message: `the host name ${JSON.stringify(nodeName)} is not a valid node name: set node_name or -node` });
  }
  const datacenter = get('datacenter', 'dc1');
  const bindAddr = get('bind_addr', '0.0.0.0');
  const clientAddr = has('client_addr') ? get('client_addr', '127.0.0.1') : isLoopback(bindAddr) ? bindAddr : '127.0.0.1';
  for (const key of ['advertise_addr', 'advertise_addr_wan']) {
    if (has(key) && isUnspecified(get(key, ''))) problems.push({ ...origin(key), message: 'expected a specific address peers can reach, not an unspecified one (0.0.0.0 or ::)' });
  }
  const dataDirRaw = get<string | undefined>('data_dir', undefined);
  if (dataDirRaw === undefined && !opts.dev) {
    problems.push({ source: 'configuration', field: 'data_dir', message: 'is required (except with -dev): expected a directory path' });
  }
  const server = get('server', false);
  const ports: PortsConfig = {
    http: get('ports.http', 7500),
    grpc: get('ports.grpc', 7501),
    serfLan: get('ports.serf_lan', 7301),
    serfWan: get('ports.serf_wan', 7302),
    dns: get('ports.dns', 7600),
  };
  if (server && ports.serfLan !== 0 && ports.serfLan === ports.serfWan) {
    problems.push({ ...origin('ports.serf_wan'), message: `expected a port different from ports.serf_lan (${ports.serfLan})` });
  }
  for (const key of ['retry_interval', 'retry_interval_wan']) {
    if (get(key, 1) <= 0) problems.push({ ...origin(key), message: 'expected a duration greater than 0' });
  }
  const verifyIncoming = get('encrypt_verify_incoming', true);
  const verifyOutgoing = get('encrypt_verify_outgoing', true);
  const profile = get<GossipProfile>('profile', opts.dev ? 'local' : 'lan');

  const gossipLan = gossipConfig('gossip_lan', PROFILES[profile](nodeName, datacenter), merged, verifyIncoming, verifyOutgoing);
  const wanBase = (opts.dev ? defaultLocalConfig : defaultWanConfig)(`${nodeName}.${datacenter}`, WAN_LABEL);
  const gossipWan = gossipConfig('gossip_wan', wanBase, merged, verifyIncoming, verifyOutgoing);
  // node_name and datacenter were checked above; the WAN node name `<node>.<dc>` can still be too long.
  problems.push(...gossipProblems('gossip_lan', gossipLan, origin).filter((p) => p.field !== 'node_name' && p.field !== 'datacenter'));
  if (server) problems.push(...gossipProblems('gossip_wan', gossipWan, origin).filter((p) => p.field !== 'datacenter'));

  const ca = buildCaConfig({ get, has, origin, dev: opts.dev, server });
  problems.push(...ca.problems);

  const config: AgentConfig = {
    nodeName,
    nodeId: get<string | undefined>('node_id', undefined)?.toLowerCase(),
    datacenter,
    region: get<string | undefined>('region', undefined),
    zone: get<string | undefined>('zone', undefined),
    bindAddr,
    advertiseAddr: get<string | undefined>('advertise_addr', undefined),
    advertiseAddrWan: get<string | undefined>('advertise_addr_wan', undefined),
    clientAddr,
    ports,
    dataDir: dataDirRaw === undefined ? undefined : resolve(dataDirRaw),
    dev: opts.dev,
    encrypt: get<string | undefined>('encrypt', undefined),
    encryptVerifyIncoming: verifyIncoming,
    encryptVerifyOutgoing: verifyOutgoing,
    startJoin: get<string[]>('start_join', []),
    startJoinWan: get<string[]>('start_join_wan', []),
    retryJoin: get<string[]>('retry_join', []),
    retryJoinWan: get<string[]>('retry_join_wan', []),
    retryIntervalMs: get('retry_interval', 30_000),
    retryMax: get('retry_max', 0),
    retryIntervalWanMs: get('retry_interval_wan', 30_000),
    retryMaxWan: get('retry_max_wan', 0),
    server,
    logLevel: get<LogLevel>('log_level', 'info'),
    logJson: get('log_json', true),
    profile,
    gossipLan,
    gossipWan,
    ca: ca.config,
    defaultIntentionPolicy: get<IntentionPolicy>('default_intention_policy', opts.dev ? 'allow' : 'deny'),
    aclAgentToken: get<string | undefined>('acl_agent_token', undefined),
    sources: [...opts.sources],
    serviceDefinitions: [...(opts.serviceDefinitions ?? [])],
  };
  return { config: deepFreeze(config), problems };
}

/** Applies `<block>.<key>` overrides onto a profile. */
function gossipConfig(block: string, base: GossipConfig, merged: Layer, verifyIn: boolean, verifyOut: boolean): GossipConfig {
  const out: GossipConfig = { ...base, gossipVerifyIncoming: verifyIn, gossipVerifyOutgoing: verifyOut };
  for (const [key, { field }] of Object.entries(GOSSIP_KEYS)) {
    const s = merged.get(`${block}.${key}`);
    if (s !== undefined) (out as unknown as Record<string, unknown>)[field] = s.value;
  }
  return out;
}

/** Runs the gossip library's validation and names each problem by the operator's key. */
function gossipProblems(
  block: string,
  c: GossipConfig,
  origin: (path: string) => { source: string; field: string },
): ConfigProblem[] {
  const keyOf = new Map<string, string>(Object.entries(GOSSIP_KEYS).map(([k, v]) => [v.field, `${block}.${k}`]));
  keyOf.set('nodeName', 'node_name');
  keyOf.set('label', 'datacenter');
  return validateGossipConfig(c).map((p) => {
    const path = keyOf.get(p.field) ?? `${block}.${p.field}`;
    const message = p.message.replace(/probeIntervalMs \((\d+(?:\.\d+)?)\)/, (_, ms: string) => `${block}.probe_interval (${formatDurationMs(Number(ms))})`);
    const where = origin(path);
    if (p.field === 'nodeName' && block === 'gossip_wan') {
      return { ...where, message: `with the datacenter, the WAN node name ${JSON.stringify(c.nodeName)} must be at most 128 characters` };
    }
    return where.source === 'configuration' ? { source: 'defaults', field: path, message } : { ...where, message };
  });
}

/** True for 127.0.0.0/8 and ::1 (and v4-mapped loopback). */
export function isLoopback(addr: string): boolean {
  if (isIP(addr) === 4) return addr.startsWith('127.');
  const a = addr.toLowerCase();
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || a.startsWith('::ffff:127.');
}

/** True for 0.0.0.0 and ::, which mean "every interface" and cannot be announced to peers. */
export function isUnspecified(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || /^[0:]+$/.test(addr);
}

/**
 * A copy of the configuration that is safe to log or show: the key is replaced by whether one is set,
 * and service definitions by the files they came from (check headers often carry tokens).
 */
export function redactedConfig(c: AgentConfig): Record<string, unknown> {
  const { encrypt, serviceDefinitions, ca, aclAgentToken, ...rest } = c;
  return {
    ...rest, encrypt: encrypt === undefined ? false : '[redacted]', aclAgentToken: aclAgentToken === undefined ? undefined : '[redacted]', serviceDefinitions: serviceDefinitions.map((d) => d.source),
    ca: ca === undefined ? undefined : { ...ca, bootstrapToken: ca.bootstrapToken === undefined ? undefined : '[redacted]' },
  };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as Record<string, unknown>)) deepFreeze(child);
  }
  return v;
}
