/**
 * The `ca { ... }` block and `default_intention_policy`: typed, with defaults, and the rules that
 * span several keys. Kept beside agent-config.ts so that file stays about the agent as a whole.
 *
 * The CA is on when any `ca` key is set, and always in dev mode (trust domain `shoal.dev`, an
 * in-memory root and intermediate, the dev server signing its own leaves). Outside dev mode:
 * - `trust_domain` is required;
 * - servers need `intermediate_cert_file` and `intermediate_key_file` (made by `shoal ca intermediate`)
 *   and `root_cert_file` (the root from `shoal ca init`, which seeds the trust bundle);
 * - every agent needs `bootstrap_token` or `bootstrap_token_file` (not both): clients send it on first
 *   contact, servers check it.
 */
import { resolve } from 'node:path';
import { formatDurationMs } from './duration';
import type { ConfigProblem } from './errors';

/** Authorization when no intention matches. */
export type IntentionPolicy = 'allow' | 'deny';

/** Trust domain of dev mode. */
export const DEV_TRUST_DOMAIN = 'shoal.dev';

/** Defaults and bounds of the CA settings. */
export const CA_DEFAULTS = {
  /** Leaf lifetime: 72 h (Consul's leaf_cert_ttl). */
  leafTtlMs: 72 * 3_600_000,
  minLeafTtlMs: 3_600_000,
  maxLeafTtlMs: 8760 * 3_600_000,
  /** Signing rate per server: 50/s, Consul's csr_max_per_second. */
  signRatePerSec: 50,
} as const;

/** The validated CA settings. Paths are absolute. */
export interface CaConfig {
  /** SPIFFE trust domain of every identity. */
  readonly trustDomain: string;
  /** First-contact token (never log it). */
  readonly bootstrapToken: string | undefined;
  /** File holding the first-contact token (the installer writes /etc/shoal.d/ca-bootstrap-token). */
  readonly bootstrapTokenFile: string | undefined;
  /** Trust anchor for first contact with a CA server; without it the bundle learned by gossip is trusted. */
  readonly rootCertFile: string | undefined;
  /** This cluster's intermediate and key (servers). */
  readonly intermediateCertFile: string | undefined;
  readonly intermediateKeyFile: string | undefined;
  /** Lifetime of leaves this agent asks for (and servers grant by default): 72 h, 1 h to 8760 h. */
  readonly leafTtlMs: number;
  /** Signing rate limit of a server, requests per second: 50. */
  readonly signRatePerSec: number;
  /** Burst of the rate limit: default one second's worth. */
  readonly signBurst: number;
}

type Get = <T>(path: string, fallback: T) => T;
type Origin = (path: string) => { source: string; field: string };

const CA_KEYS = [
  'trust_domain', 'bootstrap_token', 'bootstrap_token_file', 'root_cert_file', 'intermediate_cert_file', 'intermediate_key_file',
  'leaf_ttl', 'sign_rate_per_sec', 'sign_burst',
] as const;

/** Builds the CA settings from merged layers; undefined when the CA is off. */
export function buildCaConfig(o: {
  get: Get; has: (path: string) => boolean; origin: Origin; dev: boolean; server: boolean;
}): { config: CaConfig | undefined; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const set = CA_KEYS.filter((k) => o.has(`ca.${k}`));
  if (set.length === 0 && !o.dev) return { config: undefined, problems };
  const path = (k: string): string | undefined => {
    const v = o.get<string | undefined>(`ca.${k}`, undefined);
    return v === undefined ? undefined : resolve(v);
  };
  const problem = (k: string, message: string): void => {
    problems.push(o.has(`ca.${k}`) ? { ...o.origin(`ca.${k}`), message } : { source: 'configuration', field: `ca.${k}`, message });
  };
  if (!o.has('ca.trust_domain') && !o.dev) problem('trust_domain', `is required when any CA setting is given (${set.map((k) => `ca.${k}`).join(', ')})`);
  const leafTtlMs = o.get('ca.leaf_ttl', CA_DEFAULTS.leafTtlMs);
  if (leafTtlMs < CA_DEFAULTS.minLeafTtlMs || leafTtlMs > CA_DEFAULTS.maxLeafTtlMs) {
    problem('leaf_ttl', `expected a duration from 1h to 8760h, got ${formatDurationMs(leafTtlMs)}`);
  }
  if (o.has('ca.bootstrap_token') && o.has('ca.bootstrap_token_file')) problem('bootstrap_token_file', 'cannot be set together with ca.bootstrap_token: choose one');
  if (!o.dev && !o.has('ca.bootstrap_token') && !o.has('ca.bootstrap_token_file')) {
    problem('bootstrap_token_file', 'is required (or ca.bootstrap_token): clients send it on first contact and servers check it; the installer writes /etc/shoal.d/ca-bootstrap-token');
  }
  const cert = o.has('ca.intermediate_cert_file');
  const key = o.has('ca.intermediate_key_file');
  if (cert !== key) problem(cert ? 'intermediate_key_file' : 'intermediate_cert_file', 'is required with the other intermediate setting: give both the certificate and its key');
  if (o.server && !o.dev && !cert && !key) {
    problem('intermediate_cert_file', 'is required on servers (with ca.intermediate_key_file): create one per cluster with `shoal ca intermediate`');
  }
  if (o.server && !o.dev && !o.has('ca.root_cert_file')) {
    problem('root_cert_file', 'is required on servers: the root certificate (from `shoal ca init`) seeds the trust bundle');
  }
  if (!o.server && (cert || key)) problem(cert ? 'intermediate_cert_file' : 'intermediate_key_file', 'is a server setting: set server = true or remove it');
  const rate = o.get('ca.sign_rate_per_sec', CA_DEFAULTS.signRatePerSec);
  const config: CaConfig = {
    trustDomain: o.get('ca.trust_domain', DEV_TRUST_DOMAIN),
    bootstrapToken: o.get<string | undefined>('ca.bootstrap_token', undefined),
    bootstrapTokenFile: path('bootstrap_token_file'),
    rootCertFile: path('root_cert_file'),
    intermediateCertFile: path('intermediate_cert_file'),
    intermediateKeyFile: path('intermediate_key_file'),
    leafTtlMs,
    signRatePerSec: rate,
    signBurst: o.get('ca.sign_burst', rate),
  };
  return { config, problems };
}
