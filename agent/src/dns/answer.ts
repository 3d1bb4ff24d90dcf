/**
 * Answers one DNS question from the catalog: the records, the rcode and the authority section.
 * Pure apart from the injected Random that shuffles answers, so it is table-tested without sockets.
 *
 * Health: an instance is served unless one of its checks (node checks included) is critical, as
 * Consul's DNS does by default; with `onlyPassing` a warning hides it too (Consul's
 * `dns_config.only_passing`). A name whose service has no instance left is NXDOMAIN, as in Consul.
 *
 * SRV targets: `<node>.node.<dc>.<domain>` when the instance uses its node's address; when it has
 * its own IP, `<hex-ip>.addr.<dc>.<domain>` (Consul's form); when it has a hostname, that hostname.
 * The target's A/AAAA records go in the additional section.
 */
import type { Answer, Question } from 'dns-packet';
import { isIP } from 'node:net';
import { aggregateStatus, type CatalogReader, type NodeCatalog, type ServiceInstance } from '../catalog/types';
import { shuffle, type Random } from '../core/random';
import { ipToHex, parseQueryName, type DnsLookup } from './query-name';

/** DNS response codes Shoal sends (RFC 1035, RFC 6891 for BADVERS's low bits). */
export const Rcode = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

/** How answers are built. */
export interface AnswerOptions {
  /** Lowercase, without a trailing dot: 'shoal'. */
  domain: string;
  /** This agent's datacenter: names without one mean it. */
  datacenter: string;
  /** TTL of service records (A, AAAA, CNAME, SRV for `.service.` and `.connect.`), seconds. */
  serviceTtlSec: number;
  /** TTL of node and address records, seconds. */
  nodeTtlSec: number;
  /** Serve only instances whose checks all pass (default false: warning is served). */
  onlyPassing: boolean;
  random: Random;
}

/** The sections of a response, before size limits. */
export interface DnsAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** SOA timers (seconds): Consul's defaults. `minimum` is the negative-caching TTL: 0, nothing cached. */
const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 86400, minimum: 0 } as const;

/** Answers `q` (already known to be class IN or ANY). */
export function answerQuestion(catalog: CatalogReader, q: Question, opts: AnswerOptions): DnsAnswer {
  const lookup = parseQueryName(q.name, opts.domain);
  switch (lookup.kind) {
    case 'outside':
      return { rcode: Rcode.refused, answers: [], authorities: [], additionals: [] };
    case 'unknown':
      return negative(catalog, opts, Rcode.nxDomain);
    case 'apex':
      return q.type === 'SOA' ? { rcode: Rcode.noError, answers: [soa(catalog, opts)], authorities: [], additionals: [] } : negative(catalog, opts, Rcode.noError);
    case 'node':
      return nodeAnswer(catalog, q, lookup, opts);
    case 'addr':
      return addrAnswer(catalog, q, lookup, opts);
    case 'service':
      return serviceAnswer(catalog, q, lookup, opts);
  }
}

/** The zone's SOA record; the serial is the catalog index (changes when the catalog does). */
export function soa(catalog: CatalogReader, opts: AnswerOptions): Answer {
  return {
    name: opts.domain, type: 'SOA', ttl: 0,
    data: { mname: `ns.${opts.domain}`, rname: `hostmaster.${opts.domain}`, serial: catalog.index() >>> 0, ...SOA_TIMERS },
  };
}

/** NXDOMAIN, or NOERROR with no data (the name exists, not with this type): SOA in authority either way. */
function negative(catalog: CatalogReader, opts: AnswerOptions, rcode: number): DnsAnswer {
  return { rcode, answers: [], authorities: [soa(catalog, opts)], additionals: [] };
}

/** A node's datacenter as DNS names carry it: lowercase, this one when the node has none. */
function datacenterOf(node: NodeCatalog, opts: AnswerOptions): string {
  return (node.datacenter || opts.datacenter).toLowerCase();
}

function inDatacenter(dc: string | undefined, node: NodeCatalog, opts: AnswerOptions): boolean {
  return datacenterOf(node, opts) === (dc ?? opts.datacenter);
}

function nodeAnswer(catalog: CatalogReader, q: Question, lookup: Extract<DnsLookup, { kind: 'node' }>, opts: AnswerOptions): DnsAnswer {
  const node = catalog.node(lookup.node) ?? catalog.nodes().find((n) => n.node.toLowerCase() === lookup.node);
  if (node === undefined || !inDatacenter(lookup.datacenter, node, opts)) return negative(catalog, opts, Rcode.nxDomain);
  const records = addressRecords(q.name, q.type, node.address, opts.nodeTtlSec);
  return records.length > 0 ? { rcode: Rcode.noError, answers: records, authorities: [], additionals: [] } : negative(catalog, opts, Rcode.noError);
}

function addrAnswer(catalog: CatalogReader, q: Question, lookup: Extract<DnsLookup, { kind: 'addr' }>, opts: AnswerOptions): DnsAnswer {
  const records = addressRecords(q.name, q.type, lookup.ip, opts.nodeTtlSec);
  return records.length > 0 ? { rcode: Rcode.noError, answers: records, authorities: [], additionals: [] } : negative(catalog, opts, Rcode.noError);
}

/** A, AAAA or CNAME records for `address` as `qtype` asks (ANY gets whichever applies). */
function addressRecords(name: string, qtype: string, address: string, ttl: number): Answer[] {
  const family = isIP(address);
  if (family === 4 && (qtype === 'A' || qtype === 'ANY')) return [{ name, type: 'A', ttl, data: address }];
  if (family === 6 && (qtype === 'AAAA' || qtype === 'ANY')) return [{ name, type: 'AAAA', ttl, data: address }];
  if (family === 0 && isHostname(address) && (qtype === 'A' || qtype === 'AAAA' || qtype === 'CNAME' || qtype === 'ANY')) {
    return [{ name, type: 'CNAME', ttl, data: address }];
  }
  return [];
}

function serviceAnswer(catalog: CatalogReader, q: Question, lookup: Extract<DnsLookup, { kind: 'service' }>, opts: AnswerOptions): DnsAnswer {
  const instances = healthyInstances(catalog, lookup, opts);
  if (instances.length === 0) return negative(catalog, opts, Rcode.nxDomain);
  shuffle(instances, opts.random);
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const seen = new Set<string>();
  for (const i of instances) {
    const address = i.service.address || i.node.address;
    if (q.type === 'SRV') {
      const srv = srvRecord(q.name, i, address, opts);
      answers.push(srv.record);
      for (const extra of srv.additionals) {
        const key = `${extra.name}/${extra.type}`;
        if (!seen.has(key)) additionals.push(extra);
        seen.add(key);
      }
    } else {
      for (const r of addressRecords(q.name, q.type, address, opts.serviceTtlSec)) {
        // Several instances on one address give one record (Consul de-duplicates too).
        const key = `${r.type}/${String(r.data)}`;
        if (!seen.has(key)) answers.push(r);
        seen.add(key);
      }
    }
  }
  return answers.length > 0 ? { rcode: Rcode.noError, answers, authorities: [], additionals } : negative(catalog, opts, Rcode.noError);
}

/**
 * Instances of the looked-up service in the asked datacenter that DNS may serve. Tags are compared
 * here, case-insensitively, because DNS names arrive lowercased.
 */
function healthyInstances(catalog: CatalogReader, lookup: Extract<DnsLookup, { kind: 'service' }>, opts: AnswerOptions): ServiceInstance[] {
  const query = lookup.connect ? { connect: true } : {};
  let found = catalog.instances(lookup.service, query);
  if (found.length === 0) {
    const spelt = registeredSpelling(catalog, lookup.service);
    if (spelt !== undefined) found = catalog.instances(spelt, query);
  }
  return found.filter((i) => {
    if (!inDatacenter(lookup.datacenter, i.node, opts)) return false;
    if (lookup.tag !== undefined && !i.service.tags.some((t) => t.toLowerCase() === lookup.tag)) return false;
    const status = aggregateStatus(i.checks);
    return opts.onlyPassing ? status === 'passing' : status !== 'critical';
  });
}

/** The registered spelling of a service name that has capitals (DNS names arrive lowercased). */
function registeredSpelling(catalog: CatalogReader, lower: string): string | undefined {
  for (const name of catalog.services().keys()) if (name !== lower && name.toLowerCase() === lower) return name;
  return undefined;
}

function srvRecord(name: string, i: ServiceInstance, address: string, opts: AnswerOptions): { record: Answer; additionals: Answer[] } {
  const dc = datacenterOf(i.node, opts);
  const family = isIP(address);
  let target: string;
  if (family !== 0 && address === i.node.address && isLabel(i.node.node)) {
    target = `${i.node.node.toLowerCase()}.node.${dc}.${opts.domain}`;
  } else if (family !== 0) {
    target = `${ipToHex(address, family as 4 | 6) ?? ''}.addr.${dc}.${opts.domain}`;
  } else {
    target = address;
  }
  const weight = aggregateStatus(i.checks) === 'warning' ? i.service.weights.warning : i.service.weights.passing;
  const record: Answer = { name, type: 'SRV', ttl: opts.serviceTtlSec, data: { priority: 1, weight: clampU16(weight), port: i.service.port, target } };
  const additionals = family === 0 ? [] : addressRecords(target, family === 4 ? 'A' : 'AAAA', address, opts.nodeTtlSec);
  return { record, additionals };
}

function clampU16(n: number): number {
  return Number.isFinite(n) ? Math.min(65535, Math.max(0, Math.trunc(n))) : 1;
}

/** One DNS label Shoal can put in a name it sends: letters, digits, hyphen, underscore; 1 to 63 bytes. */
export function isLabel(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,63}$/.test(s);
}

/** A hostname a CNAME can carry: dot-separated labels, 253 bytes at most. */
export function isHostname(s: string): boolean {
  const trimmed = s.endsWith('.') ? s.slice(0, -1) : s;
  return trimmed.length > 0 && trimmed.length <= 253 && trimmed.split('.').every(isLabel);
}
