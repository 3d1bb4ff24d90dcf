/**
 * The CA's public surface. Other parts import the CA only from here.
 *
 * Library side: SPIFFE identities, keys, CA certificates and their files, CSRs, the leaf signer, the
 * `Sign` gRPC server and client. The contract (wire messages, codes, trust bundle, gossip tags) is
 * api.ts, re-exported whole.
 */
export * from './api';
export { CaError, CaLocalErrorCode, isCaError, type CaErrorCodeValue } from './errors';
export { identityName, parseSpiffeId, spiffeId, trustDomainUri, validateIdentity, validateSegment, validateTrustDomain } from './spiffe';
export { exportKeyPem, generateKeyPair, importKeyPem, keyIdOf } from './keys';
export type { CryptoKey, CryptoKeyPair } from './x509';
export {
  certInfo, createIntermediate, createRoot, crossSign, verificationCas, CLOCK_SKEW_MS, DEFAULT_INTERMEDIATE_VALIDITY_MS, DEFAULT_ROOT_VALIDITY_MS,
  type CaMaterial, type CertAndKey, type CertInfo,
} from './authority';
export { CERT_FILE_MODE, KEY_FILE_MODE, materialPaths, readMaterial, writeMaterial, type MaterialPaths } from './material';
export { checkCsrFor, createCsr, DEFAULT_MAX_CSR_BYTES, inspectCsr, validateCsr, type InspectedCsr } from './csr';
export { clampTtlMs, DEFAULT_LEAF_TTL_MS, DEFAULT_MAX_TTL_MS, DEFAULT_MIN_TTL_MS, LeafSigner, type LeafSignerOptions } from './signer';
export { TokenBucket, type TokenBucketOptions } from './rate-limit';
export { CaServer, type CaServerMetrics, type CaServerOptions, type CaServerTls } from './server';
export { CaGrpcClient, caErrorOfStatus, serverIdentityChecker, type SignAuth } from './client';
export { authenticate, authorizeRequest, spiffeIdOfPeer, type AuthPolicy, type Caller } from './server-auth';
export { parseStatusMessage, RETRYABLE_STATUSES, STATUS_OF_CODE } from './grpc-codec';
