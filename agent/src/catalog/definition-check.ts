/**
 * Check definitions (Consul's `check { ... }` / `checks [ ... ]`), in a service or at the top of a
 * file, validated into the checks part's `CheckDefinition`. Rules follow Consul's CheckType.Validate:
 * exactly one kind per check; `interval` required for http, tcp, grpc and script checks and refused
 * for ttl and alias checks; `ttl` greater than 0; thresholds non-negative.
 */
import { isIP } from 'node:net';
import type { CheckDefinition, CheckSpec } from '../checks';
import { CATALOG_LIMITS } from './catalog-codec';
import type { HealthStatus } from './types';
import { describe, Fields, joinPath, type Located, type Problems } from './definition-fields';

/** Default timeout of http, tcp and grpc checks: 10 s (Consul). */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** Default timeout of script checks: 30 s (Consul). */
export const DEFAULT_SCRIPT_TIMEOUT_MS = 30_000;

/** Most arguments of a script check, and most header values: operator input is bounded. */
const MAX_LIST = 256;

const KIND_FIELDS = ['http', 'tcp', 'grpc', 'args', 'ttl', 'alias_service'] as const;

/** Fields that belong to one kind only. */
const KIND_OF: Readonly<Record<string, (typeof KIND_FIELDS)[number]>> = {
  method: 'http',
  header: 'http',
  body: 'http',
  disable_redirects: 'http',
  grpc_use_tls: 'grpc',
  alias_node: 'alias_service',
};

const COMMON_FIELDS = [
  'id', 'name', 'notes', 'status', 'interval', 'timeout', 'success_before_passing', 'failures_before_warning',
  'failures_before_critical', 'deregister_critical_service_after', 'tls_skip_verify', 'tls_server_name',
];

const SERVICE_CHECK_FIELDS: readonly string[] = [...COMMON_FIELDS, ...KIND_FIELDS, ...Object.keys(KIND_OF)];
const TOP_LEVEL_CHECK_FIELDS: readonly string[] = [...SERVICE_CHECK_FIELDS, 'service_id'];

/** API bodies name the ID `CheckID` and script arguments `ScriptArgs`. */
const CHECK_ALIASES: Readonly<Record<string, string>> = { check_id: 'id', script_args: 'args' };

const STATUSES: readonly HealthStatus[] = ['passing', 'warning', 'critical'];

/**
 * Check IDs: no `/` (they appear in URL paths) and no control characters, at most 256 characters.
 * Spaces are allowed: a top-level check's ID defaults to its name ("Memory utilization").
 */
const CHECK_ID_PATTERN = /^[^/\p{Cc}]{1,256}$/u;

/** IDs of the agent's own checks: node health and maintenance mode. */
export function isReservedCheckId(id: string): boolean {
  return id === 'serfHealth' || id === '_node_maintenance' || id.startsWith('_service_maintenance:');
}

/** Where a check sits, for defaults. */
export interface CheckContext {
  /** Owning service ID; '' for a top-level check (which may name one with `service_id`). */
  serviceId: string;
  serviceName: string;
  /** ID when the check gives none: `service:<id>` or `service:<id>:<n>`; '' for top-level checks (name used). */
  defaultId: string;
}

/** Reads one check; undefined when it has problems (recorded in `p`). */
export function readCheck(p: Problems, at: Located, ctx: CheckContext): CheckDefinition | undefined {
  const before = p.list.length;
  const topLevel = ctx.serviceId === '';
  const f = Fields.of(p, at, topLevel ? TOP_LEVEL_CHECK_FIELDS : SERVICE_CHECK_FIELDS, CHECK_ALIASES);
  if (f === undefined) return undefined;

  const kinds = f.present(KIND_FIELDS);
  if (kinds.length !== 1) {
    p.add(at.path, kinds.length === 0
      ? `expected exactly one of ${KIND_FIELDS.join(', ')}`
      : `expected exactly one check kind, got ${kinds.join(' and ')}`);
  }
  const kind = kinds[0] as (typeof KIND_FIELDS)[number] | undefined;
  for (const [field, owner] of Object.entries(KIND_OF)) {
    if (f.has(field) && kind !== undefined && kind !== owner) p.add(f.path(field, ''), `applies to ${owner} checks only`);
  }
  for (const field of ['tls_skip_verify', 'tls_server_name']) {
    if (f.has(field) && kind !== undefined && kind !== 'http' && kind !== 'grpc') p.add(f.path(field, ''), 'applies to http and grpc checks only');
  }

  const name = f.string('name', topLevel ? '' : `Service '${ctx.serviceName}' check`);
  if (topLevel && name === '' && !f.has('name')) p.add(joinPath(at.path, 'name'), 'is required for a check outside a service');
  if (name.length > CATALOG_LIMITS.maxNameChars) p.add(f.path('name', ''), `expected at most ${CATALOG_LIMITS.maxNameChars} characters, got ${name.length}`);
  const notes = f.string('notes');
  if (notes.length > CATALOG_LIMITS.maxOutputChars) p.add(f.path('notes', ''), `expected at most ${CATALOG_LIMITS.maxOutputChars} characters, got ${notes.length}`);
  const id = f.string('id', ctx.defaultId === '' ? name : ctx.defaultId);
  if (id !== '' && !CHECK_ID_PATTERN.test(id)) p.add(f.path('id', joinPath(at.path, 'id')), 'expected 1-256 printable characters without "/"');
  else if (isReservedCheckId(id)) p.add(f.path('id', joinPath(at.path, 'id')), `${JSON.stringify(id)} is reserved for the agent's own checks`);
  const serviceId = topLevel ? f.string('service_id') : ctx.serviceId;
  const statusText = f.string('status', 'critical');
  if (!(STATUSES as readonly string[]).includes(statusText)) p.add(f.path('status', ''), `expected one of ${STATUSES.join(', ')}, got ${describe(statusText)}`);

  const probing = kind === 'http' || kind === 'tcp' || kind === 'grpc' || kind === 'args';
  const interval = f.duration('interval');
  const timeout = f.duration('timeout');
  if (probing && !f.has('interval')) p.add(joinPath(at.path, 'interval'), `is required for ${kindName(kind)} checks`);
  if (probing && interval !== undefined && interval.ms <= 0) p.add(f.path('interval', ''), 'expected a duration greater than 0');
  if (!probing && kind !== undefined) {
    if (f.has('interval')) p.add(f.path('interval', ''), `does not apply to ${kindName(kind)} checks`);
    if (f.has('timeout')) p.add(f.path('timeout', ''), `does not apply to ${kindName(kind)} checks`);
  }
  if (timeout !== undefined && timeout.ms <= 0) p.add(f.path('timeout', ''), 'expected a duration greater than 0');
  const deregister = f.duration('deregister_critical_service_after');
  if (deregister !== undefined && topLevel && serviceId === '') {
    p.add(f.path('deregister_critical_service_after', ''), 'applies to checks of a service only');
  }
  const count = (field: string): number => f.int(field, 0, 1_000_000, 0);
  const successBeforePassing = count('success_before_passing');
  const failuresBeforeWarning = count('failures_before_warning');
  const failuresBeforeCritical = count('failures_before_critical');

  const spec = kind === undefined ? undefined : readSpec(p, f, kind);
  if (spec === undefined || p.list.length > before) return undefined;
  const defaultTimeout = spec.type === 'script' ? DEFAULT_SCRIPT_TIMEOUT_MS : DEFAULT_CHECK_TIMEOUT_MS;
  return {
    id,
    name,
    notes,
    serviceId,
    spec,
    intervalMs: probing ? interval!.ms : 0,
    timeoutMs: probing ? (timeout?.ms ?? defaultTimeout) : 0,
    successBeforePassing,
    failuresBeforeWarning,
    failuresBeforeCritical,
    deregisterCriticalServiceAfterMs: deregister?.ms ?? 0,
    initialStatus: statusText as HealthStatus,
    intervalText: probing ? interval!.text : '',
    timeoutText: probing ? (timeout?.text ?? `${defaultTimeout / 1000}s`) : '',
  };
}

function kindName(kind: string): string {
  return kind === 'args' ? 'script' : kind === 'alias_service' ? 'alias' : kind;
}

/** The kind-specific part; records problems for bad values. */
function readSpec(p: Problems, f: Fields, kind: (typeof KIND_FIELDS)[number]): CheckSpec | undefined {
  const path = f.path(kind, kind);
  switch (kind) {
    case 'http': {
      const url = f.string('http');
      if (!isHttpUrl(url)) p.add(path, `expected an http:// or https:// URL, got ${describe(url)}`);
      const method = f.string('method', 'GET').toUpperCase();
      if (!/^[A-Z]{1,16}$/.test(method)) p.add(f.path('method', ''), `expected an HTTP method such as GET or POST, got ${describe(method)}`);
      return {
        type: 'http',
        url,
        method,
        header: readHeader(p, f),
        body: f.string('body'),
        tlsSkipVerify: f.bool('tls_skip_verify'),
        tlsServerName: f.string('tls_server_name'),
        disableRedirects: f.bool('disable_redirects'),
      };
    }
    case 'tcp': {
      const hp = splitHostPort(f.string('tcp'));
      if (hp === undefined) {
        p.add(path, 'expected host:port (such as 127.0.0.1:8080 or [::1]:8080)');
        return undefined;
      }
      return { type: 'tcp', host: hp.host, port: hp.port };
    }
    case 'grpc': {
      const value = f.string('grpc');
      const slash = value.indexOf('/');
      const target = slash < 0 ? value : value.slice(0, slash);
      if (splitHostPort(target) === undefined) p.add(path, 'expected host:port or host:port/service');
      return {
        type: 'grpc',
        target,
        service: slash < 0 ? '' : value.slice(slash + 1),
        useTls: f.bool('grpc_use_tls'),
        tlsSkipVerify: f.bool('tls_skip_verify'),
        tlsServerName: f.string('tls_server_name'),
      };
    }
    case 'args': {
      const n = p.list.length;
      const args = f.stringList('args', MAX_LIST);
      if (args.length === 0 && p.list.length === n) p.add(path, 'expected the command and its arguments, got an empty list');
      return { type: 'script', args };
    }
    case 'ttl': {
      const ttl = f.duration('ttl');
      if (ttl !== undefined && ttl.ms <= 0) p.add(path, 'expected a duration greater than 0');
      return ttl === undefined ? undefined : { type: 'ttl', ttlMs: ttl.ms };
    }
    case 'alias_service': {
      const service = f.string('alias_service');
      if (service === '' && f.has('alias_service')) p.add(path, 'expected a service ID');
      return { type: 'alias', service, node: f.string('alias_node') };
    }
  }
}

/** `header = { Name = ["v1", "v2"] }`: a map of lists of strings. */
function readHeader(p: Problems, f: Fields): Record<string, string[]> {
  const at = f.get('header');
  if (at === undefined) return {};
  const obj = Array.isArray(at.value) && at.value.length === 1 ? at.value[0] : at.value;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    p.add(at.path, `expected a map of header names to lists of values, got ${describe(at.value)}`);
    return {};
  }
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(obj as Record<string, unknown>)) {
    const path = `${at.path}.${name}`;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) p.add(path, 'expected an HTTP header name');
    if (!Array.isArray(values) || values.length > MAX_LIST || !values.every((v) => typeof v === 'string' && !/[\r\n\0]/.test(v))) {
      p.add(path, `expected a list of header values, got ${describe(values)}`);
      continue;
    }
    out[name] = values as string[];
  }
  return out;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** `host:port` or `[v6]:port` into parts; undefined when malformed. */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(s);
  if (m === null) return undefined;
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6) return undefined;
  const port = Number(m[3]);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}
