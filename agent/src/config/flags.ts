/**
 * The `shoal agent` command-line flags and the config keys they set. The CLI registers its options
 * from this table and the loader turns their values into a layer named `command line`, so a flag and
 * its config key can never drift apart. Flags override files.
 */

/** One agent flag. `list` flags repeat and append; `bool` flags take no value. */
export interface AgentFlag {
  /** The flag without dashes (`http-port`); written `-http-port` or `--http-port`. */
  flag: string;
  /** The config key path it sets (`ports.http`). */
  key: string;
  kind: 'value' | 'list' | 'bool';
  description: string;
}

/** Every agent flag that sets a config key. `-config-file`, `-config-dir` and `-dev` are handled apart. */
export const AGENT_FLAGS: readonly AgentFlag[] = [
  { flag: 'node', key: 'node_name', kind: 'value', description: 'node name, unique in the cluster (default: hostname)' },
  { flag: 'node-id', key: 'node_id', kind: 'value', description: 'node ID (UUID; default: generated once and kept in the data dir)' },
  { flag: 'datacenter', key: 'datacenter', kind: 'value', description: 'cluster name; also the LAN gossip label (default: dc1)' },
  { flag: 'region', key: 'region', kind: 'value', description: 'region, announced as a gossip tag' },
  { flag: 'zone', key: 'zone', kind: 'value', description: 'zone, announced as a gossip tag' },
  { flag: 'bind', key: 'bind_addr', kind: 'value', description: 'address gossip binds to (default: 0.0.0.0)' },
  { flag: 'advertise', key: 'advertise_addr', kind: 'value', description: 'address announced to LAN peers (default: bind address, or a private IP when bound to 0.0.0.0)' },
  { flag: 'advertise-wan', key: 'advertise_addr_wan', kind: 'value', description: 'address announced to WAN peers (default: the LAN advertise address)' },
  { flag: 'client', key: 'client_addr', kind: 'value', description: 'address of the HTTP API (default: 127.0.0.1, or the bind address when that is a loopback address)' },
  { flag: 'data-dir', key: 'data_dir', kind: 'value', description: 'directory for persistent state (required unless -dev)' },
  { flag: 'encrypt', key: 'encrypt', kind: 'value', description: 'gossip encryption key, base64 (seeds the keyring file on first start)' },
  { flag: 'join', key: 'start_join', kind: 'list', description: 'address to join at start; fails the start if none answers (repeatable)' },
  { flag: 'join-wan', key: 'start_join_wan', kind: 'list', description: 'WAN address to join at start (servers; repeatable)' },
  { flag: 'retry-join', key: 'retry_join', kind: 'list', description: 'address to join, retried in the background until it works (repeatable)' },
  { flag: 'retry-join-wan', key: 'retry_join_wan', kind: 'list', description: 'WAN address to join, retried (servers; repeatable)' },
  { flag: 'retry-interval', key: 'retry_interval', kind: 'value', description: 'longest wait between join retries (default: 30s)' },
  { flag: 'retry-max', key: 'retry_max', kind: 'value', description: 'join attempts before giving up; 0 retries forever (default: 0)' },
  { flag: 'server', key: 'server', kind: 'bool', description: 'run as a server (CA signing; joins the WAN pool)' },
  { flag: 'log-level', key: 'log_level', kind: 'value', description: 'trace, debug, info, warn or error (default: info)' },
  { flag: 'profile', key: 'profile', kind: 'value', description: 'LAN gossip timing profile: lan, local or wan (default: lan; local with -dev)' },
  { flag: 'http-port', key: 'ports.http', kind: 'value', description: 'HTTP API port (default: 7500)' },
  { flag: 'grpc-port', key: 'ports.grpc', kind: 'value', description: 'gRPC port (default: 7501)' },
  { flag: 'serf-lan-port', key: 'ports.serf_lan', kind: 'value', description: 'LAN gossip port, UDP and TCP (default: 7301)' },
  { flag: 'serf-wan-port', key: 'ports.serf_wan', kind: 'value', description: 'WAN gossip port, UDP and TCP (default: 7302)' },
  { flag: 'dns-port', key: 'ports.dns', kind: 'value', description: 'DNS port (default: 7600)' },
];

/** Command-line values by flag name (commander's camelCase or the dashed name both work). */
export type FlagValues = Readonly<Record<string, unknown>>;

/**
 * Builds the raw document for the `command line` layer from parsed flag values, and the label map
 * that names fields by their flag in problems (`-http-port`, not `ports.http`).
 */
export function flagsToDocument(values: FlagValues): { raw: Record<string, unknown>; label: (path: string) => string } {
  const raw: Record<string, unknown> = {};
  const labels = new Map<string, string>();
  for (const f of AGENT_FLAGS) {
    const v = values[f.flag] ?? values[camel(f.flag)];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    const [head, leaf] = f.key.split('.') as [string, string | undefined];
    if (leaf === undefined) raw[head] = v;
    else raw[head] = { ...(raw[head] as Record<string, unknown> | undefined), [leaf]: v };
    labels.set(f.key, `-${f.flag}`);
  }
  return { raw, label: (path) => labels.get(path) ?? path };
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
