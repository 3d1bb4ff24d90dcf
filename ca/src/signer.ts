/**
 * Signs leaves. A `LeafSigner` holds one cluster intermediate's key and issues X.509-SVIDs: ECDSA
 * P-256, a random serial, CA:FALSE, keyUsage digitalSignature + keyAgreement (critical), extKeyUsage
 * serverAuth + clientAuth, SKI and AKI, the CSR's URI SAN as the only SAN, and the service or node
 * name as subject CN.
 *
 * The certificate is encoded with der.ts and signed with node:crypto directly (see der.ts for the
 * measured reason). Signing is synchronous: one P-256 signature costs about 0.04 ms, less than a hop
 * to the libuv thread pool and back.
 */
import { createHash, createPublicKey, randomBytes, sign as signBytes, type KeyObject } from 'node:crypto';
import type { Clock } from '../../agent/src/core/clock';
import type { Identity, SignResponse } from './api';
import { CLOCK_SKEW_MS, certInfo, type CertAndKey } from './authority';
import { bitString, booleanTrue, children, contextConstructed, contextPrimitive, DerError, expectTlv, oid, octetString, rawOf, seq, set, Tag, time, tlv, unsignedInteger, utf8String } from './der';
import { CaError, CaLocalErrorCode } from './errors';
import { checkCsrFor, type InspectedCsr } from './csr';
import { privateKeyObject } from './keys';
import { OID } from './oids';
import { identityName } from './spiffe';

const HOUR_MS = 3_600_000;
/** TTL bounds and default (Consul's leaf_cert_ttl default is also 72 h). */
export const DEFAULT_MIN_TTL_MS = HOUR_MS;
export const DEFAULT_MAX_TTL_MS = 365 * 24 * HOUR_MS;
export const DEFAULT_LEAF_TTL_MS = 72 * HOUR_MS;
/** X.520's upper bound on a common name; longer node names are cut (the SAN carries the full identity). */
const MAX_CN = 64;

/** Options of a `LeafSigner`. */
export interface LeafSignerOptions {
  /** The intermediate that signs, and its key. */
  intermediate: CertAndKey;
  /** Sent with every leaf: the intermediate first, then cross-signed certificates, if any. PEM each. */
  chainPem: string[];
  /** Hex SKI of the root the chain ends at. */
  rootId: string;
  clock: Clock;
  /** Shortest lifetime granted, ms (default 1 h). */
  minTtlMs?: number;
  /** Longest lifetime granted, ms (default 1 year). */
  maxTtlMs?: number;
  /** Lifetime when none is asked for, ms (default 72 h). */
  defaultTtlMs?: number;
}

/** The lifetime to grant: `requested` clamped to [min, max], or the default when absent or not a number. */
export function clampTtlMs(requested: number | undefined, bounds: { minTtlMs: number; maxTtlMs: number; defaultTtlMs: number }): number {
  if (requested === undefined || !Number.isFinite(requested)) return bounds.defaultTtlMs;
  return Math.min(bounds.maxTtlMs, Math.max(bounds.minTtlMs, requested));
}

const V3 = tlv(contextConstructed(0), Buffer.from([Tag.integer, 1, 2]));
const ECDSA_SHA256 = seq(oid(OID.ecdsaWithSha256));
const OID_CN = oid(OID.commonName);
/** Constant extensions: basicConstraints CA:FALSE (critical), keyUsage (critical), extKeyUsage. */
const BASIC_CONSTRAINTS_LEAF = seq(oid(OID.basicConstraints), booleanTrue(), octetString(seq()));
// digitalSignature is bit 0 and keyAgreement bit 4 (from the most significant bit): 1000 1000, and
// DER drops the three trailing zero bits.
const KEY_USAGE_LEAF = seq(oid(OID.keyUsage), booleanTrue(), octetString(bitString(Buffer.from([0x88]), 3)));
const EXT_KEY_USAGE_LEAF = seq(oid(OID.extKeyUsage), octetString(seq(oid(OID.serverAuth), oid(OID.clientAuth))));
const OID_SKI = oid(OID.subjectKeyIdentifier);
const OID_AKI = oid(OID.authorityKeyIdentifier);
const OID_SAN = oid(OID.subjectAltName);

function pem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

function firstPemDer(certPem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(certPem);
  if (m === null) throw new CaError(CaLocalErrorCode.material, 'intermediate is not a PEM certificate');
  return Buffer.from(m[1]!.replace(/\s/g, ''), 'base64');
}

/** The raw DER subject Name of a certificate (leaves copy it as their issuer, byte for byte). */
function subjectOf(certDer: Buffer): Buffer {
  const cert = expectTlv(certDer, 0, certDer.length, Tag.sequence, 'certificate');
  const tbs = expectTlv(certDer, cert.valueStart, cert.end, Tag.sequence, 'tbsCertificate');
  const fields = children(certDer, tbs, 'tbsCertificate', 12);
  const base = fields[0]?.tag === contextConstructed(0) ? 1 : 0;
  const subject = fields[base + 4];
  if (subject?.tag !== Tag.sequence) throw new DerError('tbsCertificate: no subject');
  return Buffer.from(rawOf(certDer, subject));
}

/** Issues leaves under one intermediate. */
export class LeafSigner {
  readonly rootId: string;
  readonly chainPem: readonly string[];
  /** The intermediate's expiry, Unix ms: no leaf outlives it. */
  readonly notAfterLimitMs: number;
  private readonly key: KeyObject;
  private readonly issuer: Buffer;
  private readonly authorityKeyId: Buffer;
  private readonly clock: Clock;
  private readonly ttl: { minTtlMs: number; maxTtlMs: number; defaultTtlMs: number };

  constructor(opts: LeafSignerOptions) {
    const info = certInfo(opts.intermediate.certPem);
    if (!info.isCa) throw new CaError(CaLocalErrorCode.material, 'intermediate certificate is not a CA');
    const der = firstPemDer(opts.intermediate.certPem);
    this.key = privateKeyObject(opts.intermediate.keyPem);
    const fromKey = createPublicKey(this.key).export({ type: 'spki', format: 'der' });
    const fromCert = createPublicKey({ key: opts.intermediate.certPem, format: 'pem' }).export({ type: 'spki', format: 'der' });
    if (!fromKey.equals(fromCert)) throw new CaError(CaLocalErrorCode.material, 'intermediate key does not belong to the intermediate certificate');
    if (opts.chainPem.length === 0 || !firstPemDer(opts.chainPem[0]!).equals(der)) {
      throw new CaError(CaLocalErrorCode.material, 'chainPem must start with the intermediate certificate');
    }
    this.issuer = subjectOf(der);
    this.authorityKeyId = Buffer.from(info.skiHex || createHash('sha1').update(fromCert.subarray(fromCert.length - 65)).digest('hex'), 'hex');
    this.notAfterLimitMs = info.notAfterMs;
    this.rootId = opts.rootId;
    this.chainPem = Object.freeze([...opts.chainPem]);
    this.clock = opts.clock;
    this.ttl = {
      minTtlMs: opts.minTtlMs ?? DEFAULT_MIN_TTL_MS,
      maxTtlMs: opts.maxTtlMs ?? DEFAULT_MAX_TTL_MS,
      defaultTtlMs: opts.defaultTtlMs ?? DEFAULT_LEAF_TTL_MS,
    };
    const { minTtlMs, maxTtlMs, defaultTtlMs } = this.ttl;
    if (!(minTtlMs > 0 && minTtlMs <= defaultTtlMs && defaultTtlMs <= maxTtlMs)) {
      throw new Error(`LeafSigner: need 0 < minTtlMs <= defaultTtlMs <= maxTtlMs, got ${minTtlMs}, ${defaultTtlMs}, ${maxTtlMs}`);
    }
  }

  /** Validates `csrPem` for `identity` (see csr.ts) and issues a leaf for `ttlMs` (clamped). */
  async sign(csrPem: string, identity: Identity, ttlMs?: number): Promise<SignResponse> {
    return this.signInspected(checkCsrFor(csrPem, identity), ttlMs);
  }

  /** Issues a leaf for a CSR that already passed `inspectCsr` (the server checks before it authorizes). */
  signInspected(csr: InspectedCsr, ttlMs?: number): SignResponse {
    // Whole seconds: that is what the certificate can encode, and what the response must report.
    const now = Math.floor(this.clock.wallNow() / 1000) * 1000;
    const notBeforeMs = now - CLOCK_SKEW_MS;
    const notAfterMs = Math.min(now + clampTtlMs(ttlMs, this.ttl), Math.floor(this.notAfterLimitMs / 1000) * 1000);
    const serial = randomBytes(16);
    const tbs = seq(
      V3,
      unsignedInteger(serial),
      ECDSA_SHA256,
      this.issuer,
      seq(time(notBeforeMs), time(notAfterMs)),
      seq(set(seq(OID_CN, utf8String(identityName(csr.identity).slice(0, MAX_CN))))),
      csr.spki,
      tlv(contextConstructed(3), seq(
        BASIC_CONSTRAINTS_LEAF,
        KEY_USAGE_LEAF,
        EXT_KEY_USAGE_LEAF,
        seq(OID_SKI, octetString(octetString(createHash('sha1').update(csr.point).digest()))),
        seq(OID_AKI, octetString(seq(tlv(contextPrimitive(0), this.authorityKeyId)))),
        seq(OID_SAN, octetString(seq(tlv(contextPrimitive(6), Buffer.from(csr.uri, 'ascii'))))),
      )),
    );
    const signature = signBytes('sha256', tbs, { key: this.key, dsaEncoding: 'der' });
    return {
      certPem: pem(seq(tbs, ECDSA_SHA256, bitString(signature))),
      chainPem: [...this.chainPem],
      rootId: this.rootId,
      notBeforeMs,
      notAfterMs,
      serialHex: unsignedInteger(serial).subarray(2).toString('hex').replace(/^00/, ''),
    };
  }
}
