/**
 * The CA's public contract: SPIFFE identities, the signing RPC's messages, the trust bundle, and
 * the interfaces the agent implements for the CA (authorization) and consumes from it. Other parts
 * import the CA only through `ca/src/index.ts`.
 *
 * Wire: gRPC service `shoal.ca.v1.CA`, method `Sign` (unary), messages serialized as UTF-8 JSON with
 * the shapes below (grpc-js custom serializers; no .proto loading at start). TLS always; the client
 * presents its agent certificate (mTLS) except on its very first request, which carries the bootstrap
 * token in the `x-shoal-bootstrap-token` metadata key and asks only for its own agent certificate.
 */

/** gRPC full service name and method path. */
export const CA_SERVICE = 'shoal.ca.v1.CA';
export const SIGN_METHOD = `/${CA_SERVICE}/Sign`;
/** Metadata key of the bootstrap token (first contact only; never logged). */
export const BOOTSTRAP_TOKEN_METADATA = 'x-shoal-bootstrap-token';
/**
 * Gossip tag a server sets to announce its CA: `<grpc port>`; with `ca_root` = root key id it signs under.
 * Root ids in these tags are the first 16 hex characters of the SKI, so the tags fit memberlist's
 * 512-byte budget (agent/src/ca-client/ca-tags.ts, `tagRootId`).
 */
export const CA_PORT_TAG = 'ca_grpc';
export const CA_ROOT_TAG = 'ca_root';
/** Gossip tag each member sets: ids of the roots it trusts, comma-separated (rotation step 2). */
export const TRUSTED_ROOTS_TAG = 'ca_trust';
/** Gossip tag each member sets: the root id all its current leaves chain to, or '' (rotation step 4). */
export const LEAVES_ROOT_TAG = 'ca_leaves';

/** What a leaf is for. */
export type Identity =
  | { kind: 'agent'; trustDomain: string; datacenter: string; node: string }
  | { kind: 'service'; trustDomain: string; namespace: string; datacenter: string; service: string };

/** Request of `Sign`. */
export interface SignRequest {
  /** PEM PKCS#10 CSR, ECDSA P-256, exactly one URI SAN equal to the identity's SPIFFE ID. */
  csrPem: string;
  /** Requested lifetime in ms; the server clamps to its configured range (1 h to 1 year; default 72 h). */
  ttlMs?: number;
}

/** Response of `Sign`. */
export interface SignResponse {
  /** The leaf, PEM. */
  certPem: string;
  /** Intermediates from the leaf's issuer up to (not including) the root, PEM, issuer first. */
  chainPem: string[];
  /** Key id (hex SKI) of the root the chain ends at. */
  rootId: string;
  /** Validity, Unix ms. */
  notBeforeMs: number;
  notAfterMs: number;
  serialHex: string;
}

/**
 * Error codes in the gRPC status details (`message` starts with the code). RESOURCE_EXHAUSTED and
 * UNAVAILABLE are retryable by the client; the rest are not.
 */
export const CaErrorCode = {
  csrInvalid: 'SHOAL_ERR_CSR_INVALID',
  unauthenticated: 'SHOAL_ERR_CA_UNAUTHENTICATED',
  forbidden: 'SHOAL_ERR_CA_FORBIDDEN',
  rateLimited: 'SHOAL_ERR_CA_RATE_LIMITED',
  notSigner: 'SHOAL_ERR_CA_NOT_SIGNER',
} as const;

/** One root in the trust bundle. */
export interface BundleRoot {
  /** Hex SKI of the root certificate. */
  id: string;
  pem: string;
  /** True for the root new leaves chain to; exactly one is active (two during rotation step 3, see status). */
  active: boolean;
}

/** The trust bundle every agent holds: roots plus every cluster's intermediates (and cross-signs). */
export interface TrustBundle {
  trustDomain: string;
  roots: BundleRoot[];
  /** Datacenter to the PEM intermediates its servers sign with (and cross-signed certificates). */
  intermediates: Record<string, string[]>;
  /** Increments on every change (Consul's roots index). */
  version: number;
}

/** Asked by a server before signing a service leaf: is `service` registered on `node` (per the catalog)? */
export type ServiceAuthorizer = (node: string, datacenter: string, service: string) => boolean;
