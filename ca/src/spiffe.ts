/**
 * SPIFFE identities (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md), restricted to
 * the two shapes Shoal issues:
 *
 *   service  spiffe://<trust-domain>/ns/<namespace>/dc/<datacenter>/svc/<service>
 *   agent    spiffe://<trust-domain>/agent/dc/<datacenter>/node/<node>
 *
 * Parsing is strict: no percent-encoding, port, user info, query, fragment, empty or dot segments, and
 * the scheme and trust domain in lower case, so one identity has exactly one spelling and comparing
 * strings compares identities.
 */
import type { Identity } from './api';
import { CaError, CaLocalErrorCode } from './errors';

/** SPIFFE's limit on a trust domain name, in characters. */
const MAX_TRUST_DOMAIN = 255;
/** Our limit on one path segment: a DNS name's maximum, which every node and service name fits. */
const MAX_SEGMENT = 253;
/** SPIFFE's advice on a whole ID's size, in bytes. */
const MAX_ID = 2048;

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;
const SCHEME = 'spiffe://';

function invalid(message: string): CaError {
  return new CaError(CaLocalErrorCode.spiffeInvalid, message);
}

/** Throws unless `td` is a valid trust domain name (lower-case letters, digits, '.', '-', '_'). */
export function validateTrustDomain(td: string): void {
  if (td.length === 0 || td.length > MAX_TRUST_DOMAIN) {
    throw invalid(`trust domain must have 1 to ${MAX_TRUST_DOMAIN} characters, got ${td.length}`);
  }
  if (!TRUST_DOMAIN_CHARS.test(td)) {
    throw invalid(`trust domain ${JSON.stringify(td)} may contain only lower-case letters, digits, '.', '-' and '_'`);
  }
}

/** Throws unless `value` is a valid path segment; `what` names it in the message ("service name"). */
export function validateSegment(what: string, value: string): void {
  if (value.length === 0 || value.length > MAX_SEGMENT) {
    throw invalid(`${what} must have 1 to ${MAX_SEGMENT} characters, got ${value.length}`);
  }
  if (!SEGMENT_CHARS.test(value) || value === '.' || value === '..') {
    throw invalid(`${what} ${JSON.stringify(value)} may contain only letters, digits, '.', '-' and '_' (and is not '.' or '..')`);
  }
}

/** Throws unless every part of `id` is valid. */
export function validateIdentity(id: Identity): void {
  validateTrustDomain(id.trustDomain);
  validateSegment('datacenter', id.datacenter);
  if (id.kind === 'agent') {
    validateSegment('node name', id.node);
  } else {
    validateSegment('namespace', id.namespace);
    validateSegment('service name', id.service);
  }
}

/** The SPIFFE ID of `id`; throws a CaError (SHOAL_ERR_SPIFFE_ID_INVALID) if a part is invalid. */
export function spiffeId(id: Identity): string {
  validateIdentity(id);
  return id.kind === 'agent'
    ? `${SCHEME}${id.trustDomain}/agent/dc/${id.datacenter}/node/${id.node}`
    : `${SCHEME}${id.trustDomain}/ns/${id.namespace}/dc/${id.datacenter}/svc/${id.service}`;
}

/** The SPIFFE ID of a trust domain itself (no path), as CA certificates carry it. */
export function trustDomainUri(trustDomain: string): string {
  validateTrustDomain(trustDomain);
  return `${SCHEME}${trustDomain}`;
}

/**
 * Parses a service or agent SPIFFE ID. Throws a CaError (SHOAL_ERR_SPIFFE_ID_INVALID) that says what
 * is wrong: scheme, trust domain, shape, or which segment.
 */
export function parseSpiffeId(uri: string): Identity {
  if (typeof uri !== 'string') throw invalid('SPIFFE ID must be a string');
  if (uri.length > MAX_ID) throw invalid(`SPIFFE ID longer than ${MAX_ID} characters`);
  const shown = JSON.stringify(uri.length > 120 ? `${uri.slice(0, 120)}...` : uri);
  if (!uri.startsWith(SCHEME)) throw invalid(`${shown} is not a SPIFFE ID: it must start with "${SCHEME}"`);
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  validateTrustDomain(trustDomain);
  if (slash < 0) throw invalid(`${shown} names only a trust domain, not a service or an agent`);
  const parts = rest.slice(slash + 1).split('/');
  if (parts.length === 6 && parts[0] === 'ns' && parts[2] === 'dc' && parts[4] === 'svc') {
    const id: Identity = { kind: 'service', trustDomain, namespace: parts[1]!, datacenter: parts[3]!, service: parts[5]! };
    validateIdentity(id);
    return id;
  }
  if (parts.length === 5 && parts[0] === 'agent' && parts[1] === 'dc' && parts[3] === 'node') {
    const id: Identity = { kind: 'agent', trustDomain, datacenter: parts[2]!, node: parts[4]! };
    validateIdentity(id);
    return id;
  }
  throw invalid(`${shown} is neither spiffe://<td>/ns/<ns>/dc/<dc>/svc/<service> nor spiffe://<td>/agent/dc/<dc>/node/<node>`);
}

/** The name a leaf's subject CN carries: the service or the node name. */
export function identityName(id: Identity): string {
  return id.kind === 'agent' ? id.node : id.service;
}
