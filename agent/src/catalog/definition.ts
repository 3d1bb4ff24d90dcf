/**
 * Service definitions in Consul's shape, from agent config files (HCL or JSON: `service { ... }`,
 * `services [ ... ]`, top-level `check` / `checks`) and from API registrations (the same shape in
 * PascalCase, as Consul clients send it). Each becomes a ServiceRecord, its checks, and its sidecar
 * (Consul's defaults: `<id>-sidecar-proxy`, kind connect-proxy, a port from 21000-21255 assigned by
 * the registry, an alias check mirroring the parent). Every problem is collected with the source and
 * the field's dotted path; a definition with any problem yields nothing.
 */
import type { CheckDefinition } from '../checks';
import { CATALOG_LIMITS } from './catalog-codec';
import { readCheck } from './definition-check';
import { describe, Fields, isPlainObject, joinPath, Problems, type Located } from './definition-fields';
import {
  DEFAULT_NAMESPACE, DNS_LABEL, DNS_LABEL_EXPECTED, PROXY_FIELDS, SIDECAR_PROXY_FIELDS, isHostOrIp, readProxy,
} from './definition-proxy';
import type { ServiceKind, ServiceRecord, ValidationProblem } from './types';

/** A sidecar proxy declared by `connect { sidecar_service { ... } }`. */
export interface SidecarDefinition {
  /** Port 0 when it is to be assigned (`autoPort`). */
  service: ServiceRecord;
  autoPort: boolean;
  checks: CheckDefinition[];
  /** Path of the `sidecar_service` block. */
  field: string;
  upstreamFields: string[];
}

/** One validated service with its checks and sidecar. */
export interface ServiceDefinition {
  source: string;
  /** Path of the definition in its document: `service`, `services[2]`, '' for a request body. */
  field: string;
  service: ServiceRecord;
  checks: CheckDefinition[];
  sidecar: SidecarDefinition | undefined;
  /** Paths of the service's own upstreams (kind connect-proxy). */
  upstreamFields: string[];
}

/** A check defined at the top of a file: node-level, or bound to a service by `service_id`. */
export interface TopLevelCheck {
  source: string;
  field: string;
  check: CheckDefinition;
}

/** Everything a set of documents defines. */
export interface DefinitionSet {
  services: ServiceDefinition[];
  checks: TopLevelCheck[];
}

/** Service IDs name files in the data dir and appear in URL paths: no `/`, no leading dot. */
export const SERVICE_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}$/;

/** Consul's metadata limits, which the gossip codec enforces too. */
export const META_MAX_PAIRS = CATALOG_LIMITS.maxMetaPairs;
export const META_KEY_MAX = CATALOG_LIMITS.maxMetaKeyChars;
export const META_VALUE_MAX = CATALOG_LIMITS.maxMetaValueChars;

const SERVICE_FIELDS = [
  'id', 'name', 'kind', 'namespace', 'address', 'port', 'tags', 'meta', 'weights', 'enable_tag_override',
  'check', 'checks', 'connect', 'proxy',
];
const SIDECAR_FIELDS = ['id', 'name', 'address', 'port', 'tags', 'meta', 'weights', 'enable_tag_override', 'check', 'checks', 'proxy'];
const DOCUMENT_FIELDS = ['service', 'services', 'check', 'checks'];
const KINDS: readonly string[] = ['', 'connect-proxy'];

/** Parses the service and check blocks of agent config files (each `raw` holds those keys). */
export function parseDefinitionDocuments(docs: readonly { source: string; raw: unknown }[]): { set: DefinitionSet; problems: ValidationProblem[] } {
  const set: DefinitionSet = { services: [], checks: [] };
  const problems: ValidationProblem[] = [];
  for (const doc of docs) {
    const p = new Problems(doc.source);
    readDocument(p, doc.raw, set);
    problems.push(...p.list);
  }
  return { set, problems };
}

/**
 * Parses one API registration body (`PUT /v1/agent/service/register`). Problems name `source`;
 * the records' source is `api`.
 */
export function parseRegistration(body: unknown, source = 'request body'): { definition: ServiceDefinition | undefined; problems: ValidationProblem[] } {
  const p = new Problems(source);
  if (!isPlainObject(body)) {
    p.add('', `expected a JSON object describing the service, got ${describe(body)}`);
    return { definition: undefined, problems: p.list };
  }
  const d = readService(p, { value: body, path: '' });
  if (d === undefined || p.list.length > 0) return { definition: undefined, problems: p.list };
  const sidecar = d.sidecar === undefined ? undefined : { ...d.sidecar, service: { ...d.sidecar.service, source: API_SOURCE } };
  return { definition: { ...d, service: { ...d.service, source: API_SOURCE }, sidecar }, problems: [] };
}

/** `ServiceRecord.source` of services registered over the HTTP API. */
export const API_SOURCE = 'api';

function readDocument(p: Problems, raw: unknown, set: DefinitionSet): void {
  const f = Fields.of(p, { value: raw, path: '' }, DOCUMENT_FIELDS);
  if (f === undefined) return;
  for (const at of blocks(f, 'service')) {
    const d = readService(p, at);
    if (d !== undefined) set.services.push(d);
  }
  for (const at of f.objects('services')) {
    const d = readService(p, at);
    if (d !== undefined) set.services.push(d);
  }
  for (const at of [...blocks(f, 'check'), ...f.objects('checks')]) {
    const check = readCheck(p, at, { serviceId: '', serviceName: '', defaultId: '' });
    if (check !== undefined) set.checks.push({ source: p.source, field: at.path, check });
  }
}

/** `service { }` written once or repeated (HCL), or a JSON object or list: each with its path. */
function blocks(f: Fields, name: string): Located[] {
  const at = f.get(name);
  if (at === undefined) return [];
  if (Array.isArray(at.value)) {
    return at.value.length === 1 ? [{ value: at.value[0], path: at.path }] : at.value.map((value, i) => ({ value, path: `${at.path}[${i}]` }));
  }
  return [at];
}

function readService(p: Problems, at: Located): ServiceDefinition | undefined {
  const before = p.list.length;
  const f = Fields.of(p, at, SERVICE_FIELDS);
  if (f === undefined) return undefined;
  const name = f.string('name');
  if (!f.has('name')) p.add(joinPath(at.path, 'name'), 'is required');
  else if (!DNS_LABEL.test(name)) p.add(f.path('name', ''), `${DNS_LABEL_EXPECTED}, got ${describe(name)}`);
  const id = readId(p, f, name);
  const kind = f.string('kind');
  if (!KINDS.includes(kind)) p.add(f.path('kind', ''), `expected "connect-proxy" or no kind, got ${describe(kind)}`);
  const namespace = f.string('namespace', DEFAULT_NAMESPACE);
  if (!DNS_LABEL.test(namespace)) p.add(f.path('namespace', ''), `${DNS_LABEL_EXPECTED}, got ${describe(namespace)}`);
  const common = readCommon(p, f);

  let proxyRead: ReturnType<typeof readProxy> | undefined;
  if (kind === 'connect-proxy') {
    if (common.port === 0) p.add(f.path('port', joinPath(at.path, 'port')), 'a connect-proxy service needs a port from 1 to 65535');
    proxyRead = readProxy(p, f.block('proxy', PROXY_FIELDS), f.path('proxy', joinPath(at.path, 'proxy')), undefined);
    if (f.has('connect')) p.add(f.path('connect', ''), 'a connect-proxy service cannot have a sidecar');
  } else if (f.has('proxy')) {
    p.add(f.path('proxy', ''), 'applies to kind "connect-proxy" only (use connect.sidecar_service for a sidecar)');
  }

  const service: ServiceRecord = {
    id,
    name,
    kind: kind as ServiceKind,
    ...common,
    namespace,
    ...(proxyRead === undefined ? {} : { proxy: proxyRead.proxy }),
    source: p.source,
  };
  const checks = readServiceChecks(p, f, service);
  const sidecar = kind === '' ? readSidecar(p, f, service) : undefined;
  if (p.list.length > before) return undefined;
  return { source: p.source, field: at.path, service, checks, sidecar, upstreamFields: proxyRead?.upstreamFields ?? [] };
}

function readId(p: Problems, f: Fields, fallback: string): string {
  const id = f.string('id', fallback);
  if (f.has('id') && !SERVICE_ID_PATTERN.test(id)) {
    p.add(f.path('id', ''), `expected 1-128 letters, digits, "_", ".", ":", "@" or "-", not starting with "." or "-", got ${describe(id)}`);
  }
  return id;
}

/** Fields a service and a sidecar share. */
function readCommon(p: Problems, f: Fields): Pick<ServiceRecord, 'address' | 'port' | 'tags' | 'meta' | 'weights' | 'enableTagOverride'> {
  const address = f.string('address');
  if (address !== '' && !isHostOrIp(address)) p.add(f.path('address', ''), `expected an IP address or host name, got ${describe(address)}`);
  return {
    address,
    port: f.int('port', 0, 65535, 0),
    tags: readTags(p, f),
    meta: readMeta(p, f),
    weights: readWeights(f),
    enableTagOverride: f.bool('enable_tag_override'),
  };
}

function readTags(p: Problems, f: Fields): string[] {
  // Bounded as the gossip codec bounds them, so whatever is accepted here can be spread.
  const tags = f.stringList('tags', CATALOG_LIMITS.maxTagsPerService);
  tags.forEach((t, i) => {
    if (t.length > CATALOG_LIMITS.maxTagChars) p.add(`${f.path('tags', '')}[${i}]`, `expected at most ${CATALOG_LIMITS.maxTagChars} characters, got ${t.length}`);
  });
  return tags;
}

/** Consul's rules: at most 64 pairs, keys of letters, digits, `_` and `-` up to 128, values up to 512. */
function readMeta(p: Problems, f: Fields): Record<string, string> {
  const at = f.get('meta');
  if (at === undefined) return {};
  const obj = Array.isArray(at.value) && at.value.length === 1 ? at.value[0] : at.value;
  if (!isPlainObject(obj)) {
    p.add(at.path, `expected a map of strings, got ${describe(at.value)}`);
    return {};
  }
  const entries = Object.entries(obj);
  if (entries.length > META_MAX_PAIRS) p.add(at.path, `expected at most ${META_MAX_PAIRS} pairs, got ${entries.length}`);
  const out: Record<string, string> = {};
  for (const [key, value] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const path = `${at.path}.${key}`;
    if (!/^[A-Za-z0-9_-]+$/.test(key) || key.length > META_KEY_MAX) {
      p.add(path, `expected a key of 1-${META_KEY_MAX} letters, digits, "_" or "-"`);
    }
    if (typeof value !== 'string') p.add(path, `expected a string value, got ${describe(value)}`);
    else if (value.length > META_VALUE_MAX) p.add(path, `expected a value of at most ${META_VALUE_MAX} characters, got ${value.length}`);
    else out[key] = value;
  }
  return out;
}

/** Weights for DNS SRV answers and load balancing: passing 1-65535, warning 0-65535; default 1 and 1. */
function readWeights(f: Fields): { passing: number; warning: number } {
  const w = f.block('weights', ['passing', 'warning']);
  return { passing: w?.int('passing', 1, 65535, 1) ?? 1, warning: w?.int('warning', 0, 65535, 1) ?? 1 };
}

/** `check` then `checks`, as Consul orders them; IDs `service:<id>` or `service:<id>:<n>` unless given. */
function readServiceChecks(p: Problems, f: Fields, service: ServiceRecord): CheckDefinition[] {
  const items: Located[] = [];
  const single = f.get('check');
  if (single !== undefined) items.push(single);
  items.push(...f.objects('checks'));
  const out: CheckDefinition[] = [];
  items.forEach((at, i) => {
    const defaultId = items.length > 1 ? `service:${service.id}:${i + 1}` : `service:${service.id}`;
    const check = readCheck(p, at, { serviceId: service.id, serviceName: service.name, defaultId });
    if (check !== undefined) out.push(check);
  });
  return out;
}

function readSidecar(p: Problems, f: Fields, parent: ServiceRecord): SidecarDefinition | undefined {
  const connect = f.block('connect', ['sidecar_service', 'native']);
  if (connect === undefined) return undefined;
  if (connect.has('native')) p.add(connect.path('native', ''), 'Connect-native services are not supported; use sidecar_service');
  const at = connect.get('sidecar_service');
  if (at === undefined) return undefined;
  const sf = connect.block('sidecar_service', SIDECAR_FIELDS);
  if (sf === undefined) return undefined;

  const id = readId(p, sf, `${parent.id}-sidecar-proxy`);
  const name = sf.string('name', `${parent.name}-sidecar-proxy`);
  // A bad parent name is reported once, at the parent; only a good one can make a too-long default.
  if (!DNS_LABEL.test(name) && (sf.has('name') || DNS_LABEL.test(parent.name))) {
    p.add(sf.path('name', joinPath(at.path, 'name')), sf.has('name')
      ? `${DNS_LABEL_EXPECTED}, got ${describe(name)}`
      : `the default sidecar name ${JSON.stringify(name)} is longer than 63 characters: set a shorter name`);
  }
  const common = readCommon(p, sf);
  const proxyRead = readProxy(p, sf.block('proxy', SIDECAR_PROXY_FIELDS), sf.path('proxy', joinPath(at.path, 'proxy')), {
    name: parent.name,
    id: parent.id,
    port: parent.port,
    portRefused: f.wasRefused('port'),
  });
  const service: ServiceRecord = {
    id,
    name,
    kind: 'connect-proxy',
    ...common,
    // A sidecar without its own tags and meta inherits the parent's (Consul).
    tags: sf.has('tags') ? common.tags : parent.tags,
    meta: sf.has('meta') ? common.meta : parent.meta,
    namespace: parent.namespace,
    proxy: proxyRead.proxy,
    source: parent.source,
  };
  let checks = readServiceChecks(p, sf, service);
  if (!sf.has('check') && !sf.has('checks')) checks = [defaultSidecarCheck(service, parent)];
  return { service, autoPort: common.port === 0, checks, field: at.path, upstreamFields: proxyRead.upstreamFields };
}

/**
 * A sidecar with no checks of its own mirrors its service (Consul's "Connect Sidecar Aliasing"), so
 * traffic stops reaching an instance whose application is unhealthy. Consul also adds a TCP check of
 * the sidecar's listener; Shoal's per-node proxy owns those listeners, so that check is left out.
 */
function defaultSidecarCheck(sidecar: ServiceRecord, parent: ServiceRecord): CheckDefinition {
  return {
    id: `service:${sidecar.id}`,
    name: `Connect Sidecar Aliasing ${parent.id}`,
    notes: '',
    serviceId: sidecar.id,
    spec: { type: 'alias', service: parent.id, node: '' },
    intervalMs: 0,
    timeoutMs: 0,
    successBeforePassing: 0,
    failuresBeforeWarning: 0,
    failuresBeforeCritical: 0,
    deregisterCriticalServiceAfterMs: 0,
    initialStatus: 'critical',
    intervalText: '',
    timeoutText: '',
  };
}
