/**
 * Certificate signing requests (PKCS#10, RFC 2986). Agents make them with `createCsr`; servers check
 * them with `validateCsr` (or `inspectCsr` when the identity is not known in advance) before anything
 * is signed. The check is a whitelist: one P-256 key, an ecdsa-with-SHA256 signature that verifies,
 * and exactly one requested extension, a subjectAltName holding exactly one URI that is a Shoal
 * SPIFFE ID. Everything else (a CA flag, keyUsage, DNS names, other attributes, other curves or key
 * types, trailing bytes, non-DER encodings) is refused with CaError(SHOAL_ERR_CSR_INVALID) naming the
 * problem. The subject is ignored: the signer writes its own.
 */
import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { Identity } from './api';
import { CaErrorCode } from './api';
import { children, contextConstructed, DerError, expectTlv, oid, oidToString, rawOf, seq, Tag, valueOf, type Tlv } from './der';
import { pemOf } from './authority';
import { CaError } from './errors';
import { OID, oidName } from './oids';
import { parseSpiffeId, spiffeId } from './spiffe';
import { EC_P256, subtle, x509, type CryptoKey, type CryptoKeyPair } from './x509';

/** Default cap on a CSR's PEM size: a Shoal CSR is about 450 bytes; 8 KiB leaves room and bounds work. */
export const DEFAULT_MAX_CSR_BYTES = 8192;

/** A CSR that passed every check, with what signing needs. */
export interface InspectedCsr {
  /** The requested SPIFFE ID, exactly as in the CSR, and the identity it names. */
  uri: string;
  identity: Identity;
  /** The DER SubjectPublicKeyInfo, copied into the leaf as is. */
  spki: Buffer;
  /** The 65-byte uncompressed P-256 point (what the SKI hashes). */
  point: Buffer;
  publicKey: KeyObject;
}

const PEM_RE = /^\s*-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END (NEW )?CERTIFICATE REQUEST-----\s*$/;
const EC_P256_ALGORITHM = seq(oid(OID.ecPublicKey), oid(OID.prime256v1));
const ECDSA_SHA256 = seq(oid(OID.ecdsaWithSha256));
const OID_EXTENSION_REQUEST = oid(OID.extensionRequest);
const OID_SAN = oid(OID.subjectAltName);
/** GeneralName tags (RFC 5280 4.2.1.6), for naming a refused SAN entry. */
const GENERAL_NAME: Readonly<Record<number, string>> = {
  0xa0: 'otherName', 0x81: 'email (rfc822Name)', 0x82: 'DNS name', 0xa3: 'x400Address', 0xa4: 'directoryName',
  0xa5: 'ediPartyName', 0x86: 'URI', 0x87: 'IP address', 0x88: 'registeredID',
};

function refuse(reason: string): CaError {
  return new CaError(CaErrorCode.csrInvalid, `CSR refused: ${reason}`);
}

/** Creates a PEM CSR for `identity` signed by `keys`: empty subject, one URI SAN (the SPIFFE ID). */
export async function createCsr(opts: { identity: Identity; keys: CryptoKeyPair }): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: opts.keys,
    signingAlgorithm: EC_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId(opts.identity) }])],
  });
  return pemOf(csr);
}

function decodePem(csrPem: unknown, maxBytes: number): Buffer {
  if (typeof csrPem !== 'string') throw refuse('not a string');
  const size = Buffer.byteLength(csrPem, 'utf8');
  if (size > maxBytes) throw refuse(`${size} bytes; at most ${maxBytes} accepted`);
  const m = PEM_RE.exec(csrPem);
  if (m === null) throw refuse('not one PEM block labelled CERTIFICATE REQUEST');
  const body = m[2]!.replace(/[\r\n]/g, '');
  const der = Buffer.from(body, 'base64');
  if (der.length === 0) throw refuse('empty PEM body');
  // Node's base64 decoder skips what it does not understand; only canonical base64 is accepted.
  if (der.toString('base64') !== body) throw refuse('PEM body is not canonical base64');
  return der;
}

function checkPublicKey(der: Buffer, spki: Tlv): Buffer {
  const [alg, bits, ...extra] = children(der, spki, 'subjectPublicKeyInfo', 3);
  if (alg === undefined || bits === undefined || extra.length > 0) throw new DerError('subjectPublicKeyInfo: expected algorithm and key');
  const algRaw = rawOf(der, alg);
  if (!algRaw.equals(EC_P256_ALGORITHM)) {
    const parts = alg.tag === Tag.sequence ? children(der, alg, 'key algorithm', 2) : [];
    const names = parts.filter((p) => p.tag === Tag.oid).map((p) => oidName(oidToString(valueOf(der, p))));
    throw refuse(`key must be ECDSA P-256, got ${names.join(' ') || 'an unknown algorithm'}`);
  }
  if (bits.tag !== Tag.bitString) throw new DerError('subjectPublicKey: expected BIT STRING');
  const v = valueOf(der, bits);
  if (v.length !== 66 || v[0] !== 0 || v[1] !== 0x04) throw refuse('P-256 public key must be a 65-byte uncompressed point');
  return v.subarray(1);
}

/** The single subjectAltName extension's value; refuses every other attribute and extension. */
function extensionRequestSan(der: Buffer, attrs: Tlv): Buffer {
  let san: Buffer | undefined;
  const attributes = children(der, attrs, 'attributes', 8);
  for (const attr of attributes) {
    if (attr.tag !== Tag.sequence) throw new DerError('attribute: expected SEQUENCE');
    const [type, values, ...extra] = children(der, attr, 'attribute', 3);
    if (type?.tag !== Tag.oid || values?.tag !== Tag.set || extra.length > 0) throw new DerError('attribute: expected type and values');
    if (!rawOf(der, type).equals(OID_EXTENSION_REQUEST)) {
      throw refuse(`attribute ${oidName(oidToString(valueOf(der, type)))} is not accepted; only an extensionRequest with a subjectAltName`);
    }
    if (attributes.length > 1) throw refuse('more than one attribute');
    const [exts, ...more] = children(der, values, 'extensionRequest values', 2);
    if (exts?.tag !== Tag.sequence || more.length > 0) throw new DerError('extensionRequest: expected one Extensions value');
    for (const ext of children(der, exts, 'extensions', 16)) {
      if (ext.tag !== Tag.sequence) throw new DerError('extension: expected SEQUENCE');
      const fields = children(der, ext, 'extension', 4);
      const id = fields[0];
      const value = fields[fields.length - 1];
      if (id?.tag !== Tag.oid || value?.tag !== Tag.octetString || fields.length > 3) throw new DerError('extension: expected id, critical and value');
      if (fields.length === 3 && fields[1]!.tag !== Tag.boolean) throw new DerError('extension: critical must be BOOLEAN');
      if (!rawOf(der, id).equals(OID_SAN)) {
        throw refuse(`requests extension ${oidName(oidToString(valueOf(der, id)))}; only subjectAltName may be requested (the CA sets CA:FALSE, key usages and the rest itself)`);
      }
      if (san !== undefined) throw refuse('requests subjectAltName twice');
      san = valueOf(der, value);
    }
  }
  if (san === undefined) throw refuse('has no subjectAltName; exactly one URI SAN (the SPIFFE ID) is required');
  return san;
}

function sanUri(sanValue: Buffer): string {
  const names = expectTlv(sanValue, 0, sanValue.length, Tag.sequence, 'subjectAltName');
  if (names.end !== sanValue.length) throw new DerError('subjectAltName: trailing bytes');
  const items = children(sanValue, names, 'subjectAltName', 16);
  const kinds = items.map((n) => GENERAL_NAME[n.tag] ?? `tag 0x${n.tag.toString(16)}`);
  if (items.length !== 1 || items[0]!.tag !== 0x86) {
    throw refuse(`subjectAltName must hold exactly one URI (the SPIFFE ID), got ${items.length === 0 ? 'none' : kinds.join(', ')}`);
  }
  const bytes = valueOf(sanValue, items[0]!);
  for (const b of bytes) if (b < 0x21 || b > 0x7e) throw refuse('URI SAN contains a byte outside printable ASCII');
  return bytes.toString('ascii');
}

function checkSignature(der: Buffer, cri: Tlv, publicKey: KeyObject, sig: Tlv): void {
  const v = valueOf(der, sig);
  if (v.length < 2 || v[0] !== 0) throw refuse('signature BIT STRING is malformed');
  let ok = false;
  try {
    ok = verifySignature('sha256', rawOf(der, cri), { key: publicKey, dsaEncoding: 'der' }, v.subarray(1));
  } catch {
    ok = false;
  }
  if (!ok) throw refuse('signature does not verify with the CSR\'s public key');
}

function inspectDer(der: Buffer): InspectedCsr {
  const top = expectTlv(der, 0, der.length, Tag.sequence, 'CertificationRequest');
  if (top.end !== der.length) throw new DerError('CertificationRequest: trailing bytes');
  const [cri, sigAlg, sig, ...extra] = children(der, top, 'CertificationRequest', 4);
  if (cri?.tag !== Tag.sequence || sigAlg?.tag !== Tag.sequence || sig?.tag !== Tag.bitString || extra.length > 0) {
    throw new DerError('CertificationRequest: expected info, signature algorithm and signature');
  }
  const [version, subject, spki, attrs, ...more] = children(der, cri, 'CertificationRequestInfo', 5);
  if (version?.tag !== Tag.integer || subject?.tag !== Tag.sequence || spki?.tag !== Tag.sequence || attrs?.tag !== contextConstructed(0) || more.length > 0) {
    throw new DerError('CertificationRequestInfo: expected version, subject, key and attributes');
  }
  const ver = valueOf(der, version);
  if (ver.length !== 1 || ver[0] !== 0) throw refuse('version must be 1 (encoded 0)');
  children(der, subject, 'subject', 32);
  // The key first: for an RSA or P-384 CSR, "wrong key" is the useful message, not "wrong signature algorithm".
  const point = checkPublicKey(der, spki);
  if (!rawOf(der, sigAlg).equals(ECDSA_SHA256)) {
    const [alg] = children(der, sigAlg, 'signature algorithm', 2);
    const name = alg?.tag === Tag.oid ? oidName(oidToString(valueOf(der, alg))) : 'unknown';
    throw refuse(`signature algorithm must be ecdsa-with-SHA256 (without parameters), got ${name}`);
  }
  const uri = sanUri(extensionRequestSan(der, attrs));
  let identity: Identity;
  try {
    identity = parseSpiffeId(uri);
  } catch (err) {
    throw refuse(`URI SAN is not a Shoal SPIFFE ID: ${(err as Error).message}`);
  }
  const spkiRaw = Buffer.from(rawOf(der, spki));
  let publicKey: KeyObject;
  try {
    // Imported as JWK, not DER: Node 20 (OpenSSL 3 decoders) takes about 175 us for a DER SPKI and
    // 85 us for the same key as JWK, a third of the whole CSR check. Both refuse points off the curve.
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
    publicKey = createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    throw refuse('public key is not a valid P-256 point');
  }
  checkSignature(der, cri, publicKey, sig);
  return { uri, identity, spki: spkiRaw, point: Buffer.from(point), publicKey };
}

/**
 * Checks a CSR without an expected identity: every rule except "the SAN equals X". Servers use it to
 * learn which identity is asked for, then authorize that. Throws only CaError(SHOAL_ERR_CSR_INVALID).
 */
export function inspectCsr(csrPem: unknown, opts: { maxBytes?: number } = {}): InspectedCsr {
  const der = decodePem(csrPem, opts.maxBytes ?? DEFAULT_MAX_CSR_BYTES);
  try {
    return inspectDer(der);
  } catch (err) {
    if (err instanceof CaError) throw err;
    if (err instanceof DerError) throw refuse(`malformed DER: ${err.message}`);
    // Anything else is still the input's fault as far as the caller can tell; never leak a TypeError.
    throw refuse('malformed');
  }
}

/** Inspects a CSR and requires its SPIFFE ID to be exactly `expected`'s. */
export function checkCsrFor(csrPem: unknown, expected: Identity, opts: { maxBytes?: number } = {}): InspectedCsr {
  const csr = inspectCsr(csrPem, opts);
  const want = spiffeId(expected);
  if (csr.uri !== want) throw refuse(`URI SAN is ${csr.uri}, expected ${want}`);
  return csr;
}

/**
 * Validates a CSR for `expected` (see the module comment for the rules) and returns its public key.
 * Throws CaError(SHOAL_ERR_CSR_INVALID) with the reason.
 */
export async function validateCsr(csrPem: string, expected: Identity, opts: { maxBytes?: number } = {}): Promise<{ publicKey: CryptoKey }> {
  const csr = checkCsrFor(csrPem, expected, opts);
  const publicKey = await subtle.importKey('spki', csr.spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  return { publicKey };
}
