/**
 * Who may ask a CA server for what. Pure functions so the policy is table-tested without sockets.
 *
 * Authentication: a caller that presented a client certificate chaining to the trust bundle (the TLS
 * layer verified the chain) is the agent its SPIFFE ID names. A caller without one must send the
 * bootstrap token, and may then ask only for an agent certificate: that is first contact.
 *
 * Authorization: an agent leaf only for the caller's own node (or, at bootstrap, for the node the CSR
 * names); a service leaf only for a service the catalog has registered on the caller's node; always
 * in this server's trust domain and datacenter.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Identity, ServiceAuthorizer } from './api';
import { CaErrorCode } from './api';
import { CaError } from './errors';
import { parseSpiffeId, spiffeId } from './spiffe';

/** An authenticated caller. */
export type Caller =
  | { kind: 'agent'; identity: Extract<Identity, { kind: 'agent' }> }
  | { kind: 'bootstrap' };

/** What authentication and authorization need to know about this server. */
export interface AuthPolicy {
  trustDomain: string;
  datacenter: string;
  /** undefined: bootstrap is disabled here; callers need an agent certificate. */
  bootstrapToken: string | undefined;
  authorize: ServiceAuthorizer;
}

const unauthenticated = (m: string): CaError => new CaError(CaErrorCode.unauthenticated, m);
const forbidden = (m: string): CaError => new CaError(CaErrorCode.forbidden, m);

/** Constant-time comparison of two secrets of any length (hashing first equalizes lengths). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/**
 * The SPIFFE ID in a peer certificate's `subjectaltname` as Node formats it ("URI:spiffe://..."):
 * exactly one SAN, a URI. Our IDs contain no comma or quote, so Node's list needs no unescaping.
 */
export function spiffeIdOfPeer(subjectAltName: string | undefined): string | undefined {
  if (subjectAltName === undefined || subjectAltName === '') return undefined;
  const entries = subjectAltName.split(', ');
  if (entries.length !== 1 || !entries[0]!.startsWith('URI:')) return undefined;
  return entries[0]!.slice(4);
}

/**
 * Authenticates one call. `peerSan` is the verified client certificate's subjectaltname (undefined if
 * the caller presented none that chains to the bundle); `token` the bootstrap token metadata.
 */
export function authenticate(peerSan: string | undefined, token: string | undefined, policy: AuthPolicy): Caller {
  if (peerSan !== undefined) {
    const uri = spiffeIdOfPeer(peerSan);
    if (uri === undefined) throw unauthenticated('client certificate must carry exactly one SAN, a SPIFFE ID');
    let id: Identity;
    try {
      id = parseSpiffeId(uri);
    } catch (err) {
      throw unauthenticated(`client certificate: ${(err as Error).message}`);
    }
    if (id.kind !== 'agent') throw forbidden(`${uri} is a service identity; only agents request certificates`);
    if (id.trustDomain !== policy.trustDomain) throw forbidden(`caller ${uri} is not in trust domain ${policy.trustDomain}`);
    if (id.datacenter !== policy.datacenter) throw forbidden(`caller ${uri} is not in datacenter ${policy.datacenter}; ask a server of its own datacenter`);
    return { kind: 'agent', identity: id };
  }
  if (token === undefined || token === '') {
    throw unauthenticated('no client certificate that chains to the trust bundle, and no bootstrap token');
  }
  if (policy.bootstrapToken === undefined || policy.bootstrapToken === '') {
    throw unauthenticated('bootstrap is disabled on this server; present an agent certificate');
  }
  if (!tokensEqual(token, policy.bootstrapToken)) throw unauthenticated('bootstrap token does not match');
  return { kind: 'bootstrap' };
}

/** Throws CaError(forbidden) unless `caller` may obtain a leaf for `requested`. */
export function authorizeRequest(caller: Caller, requested: Identity, policy: AuthPolicy): void {
  const want = spiffeId(requested);
  if (requested.trustDomain !== policy.trustDomain) throw forbidden(`${want} is not in this server's trust domain ${policy.trustDomain}`);
  if (requested.datacenter !== policy.datacenter) throw forbidden(`${want} is not in this server's datacenter ${policy.datacenter}`);
  if (caller.kind === 'bootstrap') {
    if (requested.kind !== 'agent') throw forbidden('a bootstrap token obtains only the agent\'s own certificate; request service certificates with it afterwards');
    return;
  }
  const node = caller.identity.node;
  if (requested.kind === 'agent') {
    if (requested.node !== node) throw forbidden(`node ${node} may not obtain the certificate of node ${requested.node}`);
    return;
  }
  if (!policy.authorize(node, policy.datacenter, requested.service)) {
    throw forbidden(`service ${requested.service} is not registered on node ${node}`);
  }
}
