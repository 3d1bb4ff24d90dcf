/**
 * CA certificates: the trust domain's root, each cluster's intermediate, and cross-signed copies for
 * root rotation. These are made a few times a year, so they use @peculiar/x509 (leaves, the volume
 * operation, are encoded in signer.ts).
 *
 * Path lengths: the root has pathlen 1 (it signs intermediates), intermediates pathlen 0 (they sign
 * leaves only). A consequence for rotation: cross-sign the new *intermediates* with the old root, not
 * the new root itself; leaf -> new intermediate' -> old root fits pathlen 1, while
 * leaf -> new intermediate -> new root' -> old root would need pathlen 2 and OpenSSL refuses it.
 */
import { randomBytes, X509Certificate as NodeX509 } from 'node:crypto';
import type { Clock } from '../../agent/src/core/clock';
import { CaError, CaLocalErrorCode } from './errors';
import { exportKeyPem, generateKeyPair, importKeyPem, keyIdOf } from './keys';
import { trustDomainUri, validateSegment, validateTrustDomain } from './spiffe';
import { EC_P256, subtle, x509, type CryptoKeyPair } from './x509';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Default root lifetime: 10 years (Consul's default root is also 10 years). */
export const DEFAULT_ROOT_VALIDITY_MS = 3650 * DAY_MS;
/** Default intermediate lifetime: 1 year. */
export const DEFAULT_INTERMEDIATE_VALIDITY_MS = 365 * DAY_MS;
/** Backdating of notBefore, so a peer whose clock is a little behind accepts a fresh certificate. */
export const CLOCK_SKEW_MS = 60_000;
/** X.520's upper bound on a common name, in characters. */
const MAX_CN = 64;

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/** A new CA: its certificate and key, and its id (hex subject key identifier). */
export interface CaMaterial extends CertAndKey {
  id: string;
}

/** What `certInfo` reports about a certificate. */
export interface CertInfo {
  subject: string;
  issuer: string;
  serialHex: string;
  /** Hex subject / authority key identifiers; '' when the extension is absent. */
  skiHex: string;
  akiHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  isCa: boolean;
  /** basicConstraints pathLenConstraint, when present. */
  pathLength: number | undefined;
  uriSans: string[];
}

/** PEM text with the trailing newline @peculiar/x509 leaves out, so PEMs concatenate into valid bundles. */
export function pemOf(obj: { toString(format: 'pem'): string }): string {
  const text = obj.toString('pem').replace(/\r\n/g, '\n');
  return text.endsWith('\n') ? text : `${text}\n`;
}

function materialError(message: string): CaError {
  return new CaError(CaLocalErrorCode.material, message);
}

/** A random positive 127-bit serial, hex (16 bytes, top bit clear so no sign byte is needed). */
function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString('hex');
}

/** `prefix` + `middle` + ' ' + `suffix`, shortening `middle` so the result fits a CN. */
function commonName(prefix: string, middle: string, suffix: string): string {
  const room = MAX_CN - prefix.length - suffix.length - 1;
  const m = middle.length <= room ? middle : `${middle.slice(0, room - 1)}~`;
  return `${prefix}${m} ${suffix}`;
}

/** Parses a PEM certificate; throws CaError(material) naming `what`. */
export function parseCert(pem: string, what = 'certificate'): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw materialError(`${what} is not a valid PEM certificate: ${(err as Error).message}`);
  }
}

function extensionOf<T extends x509.Extension>(cert: x509.X509Certificate, type: new (...a: never[]) => T): T | undefined {
  return cert.extensions.find((e): e is T => e instanceof type);
}

/** Facts about a certificate, for status output, tests and checks before signing. */
export function certInfo(pem: string): CertInfo {
  const cert = parseCert(pem);
  const bc = extensionOf(cert, x509.BasicConstraintsExtension);
  const san = extensionOf(cert, x509.SubjectAlternativeNameExtension);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialHex: cert.serialNumber.toLowerCase(),
    skiHex: extensionOf(cert, x509.SubjectKeyIdentifierExtension)?.keyId ?? '',
    akiHex: extensionOf(cert, x509.AuthorityKeyIdentifierExtension)?.keyId ?? '',
    notBeforeMs: cert.notBefore.getTime(),
    notAfterMs: cert.notAfter.getTime(),
    isCa: bc?.ca === true,
    pathLength: bc?.pathLength,
    uriSans: (san?.names.items ?? []).filter((n) => n.type === 'url').map((n) => n.value),
  };
}

/** Imports a CA's key and checks that it belongs to the CA's certificate and that it is a CA. */
async function loadIssuer(ca: CertAndKey, what: string): Promise<{ cert: x509.X509Certificate; keys: CryptoKeyPair; info: CertInfo }> {
  const cert = parseCert(ca.certPem, `${what} certificate`);
  const info = certInfo(ca.certPem);
  if (!info.isCa) throw materialError(`${what} certificate is not a CA (basicConstraints CA:TRUE missing)`);
  const keys = await importKeyPem(ca.keyPem);
  const fromKey = Buffer.from(await subtle.exportKey('spki', keys.publicKey));
  if (!fromKey.equals(Buffer.from(cert.publicKey.rawData))) {
    throw materialError(`${what} key does not belong to the ${what} certificate`);
  }
  return { cert, keys, info };
}

function trustDomainOf(info: CertInfo): string | undefined {
  const uri = info.uriSans.find((u) => u.startsWith('spiffe://'));
  return uri?.slice('spiffe://'.length);
}

function caExtensions(pathLength: number, skiHex: string, trustDomain: string): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.SubjectKeyIdentifierExtension(skiHex),
    new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomainUri(trustDomain) }]),
  ];
}

/** Creates a self-signed root for `trustDomain` (CA:TRUE pathlen 1, keyCertSign and cRLSign). */
export async function createRoot(opts: { trustDomain: string; validityMs?: number; clock: Clock }): Promise<CaMaterial> {
  validateTrustDomain(opts.trustDomain);
  const keys = await generateKeyPair();
  const id = await keyIdOf(keys.publicKey);
  const now = opts.clock.wallNow();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: [{ CN: [commonName('Shoal Root CA ', opts.trustDomain, id.slice(0, 8))] }],
    keys,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(now + (opts.validityMs ?? DEFAULT_ROOT_VALIDITY_MS)),
    signingAlgorithm: EC_P256,
    extensions: caExtensions(1, id, opts.trustDomain),
  });
  return { certPem: pemOf(cert), keyPem: await exportKeyPem(keys.privateKey), id };
}

/**
 * Creates a cluster's intermediate under `root` (CA:TRUE pathlen 0, AKI = the root's SKI). Its
 * lifetime is cut to the root's: a certificate cannot be valid after its issuer has expired.
 */
export async function createIntermediate(opts: {
  root: CertAndKey;
  datacenter: string;
  trustDomain: string;
  validityMs?: number;
  clock: Clock;
}): Promise<CaMaterial> {
  validateTrustDomain(opts.trustDomain);
  validateSegment('datacenter', opts.datacenter);
  const root = await loadIssuer(opts.root, 'root');
  const rootDomain = trustDomainOf(root.info);
  if (rootDomain !== undefined && rootDomain !== opts.trustDomain) {
    throw materialError(`root belongs to trust domain ${rootDomain}, not ${opts.trustDomain}`);
  }
  const keys = await generateKeyPair();
  const id = await keyIdOf(keys.publicKey);
  const now = opts.clock.wallNow();
  const notAfter = Math.min(now + (opts.validityMs ?? DEFAULT_INTERMEDIATE_VALIDITY_MS), root.info.notAfterMs);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ CN: [commonName('Shoal Intermediate CA ', `${opts.trustDomain} ${opts.datacenter}`, id.slice(0, 8))] }],
    issuer: root.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: EC_P256,
    extensions: [...caExtensions(0, id, opts.trustDomain), new x509.AuthorityKeyIdentifierExtension(root.info.skiHex || (await keyIdOf(root.keys.publicKey)))],
  });
  return { certPem: pemOf(cert), keyPem: await exportKeyPem(keys.privateKey), id };
}

/**
 * Re-issues the CA certificate `certPem` under `signer`: same subject, public key and extensions
 * (so the same SKI, which leaves' AKI point at), new issuer, serial and AKI. Peers that trust only the
 * signer's root then accept leaves issued by `certPem`'s key. Lifetime: from now (minus skew) to the
 * earlier of the original's and the signer's expiry.
 */
export async function crossSign(opts: { certPem: string; signer: CertAndKey; clock: Clock }): Promise<string> {
  const original = parseCert(opts.certPem, 'certificate to cross-sign');
  const info = certInfo(opts.certPem);
  if (!info.isCa) throw materialError('only CA certificates are cross-signed');
  const signer = await loadIssuer(opts.signer, 'signer');
  const [a, b] = [trustDomainOf(info), trustDomainOf(signer.info)];
  if (a !== undefined && b !== undefined && a !== b) {
    throw materialError(`cannot cross-sign across trust domains (${a} under ${b})`);
  }
  const now = opts.clock.wallNow();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: original.subjectName,
    issuer: signer.cert.subjectName,
    publicKey: original.publicKey,
    signingKey: signer.keys.privateKey,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter: new Date(Math.min(info.notAfterMs, signer.info.notAfterMs)),
    signingAlgorithm: EC_P256,
    extensions: [
      ...original.extensions.filter((e) => !(e instanceof x509.AuthorityKeyIdentifierExtension)),
      new x509.AuthorityKeyIdentifierExtension(signer.info.skiHex || (await keyIdOf(signer.keys.publicKey))),
    ],
  });
  return pemOf(cert);
}

/**
 * The CA certificates to verify peers with: the trusted roots, then only the intermediates and
 * cross-signed certificates that one of those roots issued.
 *
 * Why filter: during a rotation the bundle holds two certificates with the same subject and key (the
 * new intermediate and its cross-signed copy). OpenSSL (and so Node's tls) takes the first issuer it
 * finds with the right subject, in the trusted store first and then in the presented chain, and does
 * not backtrack: a node that trusts only the old root fails if the new intermediate comes first, and
 * one that trusts only the new root fails if the cross-signed copy comes first (measured with OpenSSL
 * 3.0, see ca/test/authority.test.ts). Keeping only what chains to a trusted root removes the wrong
 * candidate; with both roots trusted either candidate completes a path.
 */
export function verificationCas(trustedRootPems: readonly string[], intermediatePems: readonly string[]): string[] {
  const roots = trustedRootPems.map((pem) => new NodeX509(pem));
  const chains = (pem: string): boolean => {
    const cert = new NodeX509(pem);
    return roots.some((root) => cert.checkIssued(root) && cert.verify(root.publicKey));
  };
  return [...trustedRootPems, ...intermediatePems.filter(chains)];
}
