/**
 * Rotation step 3 hands a cluster's new intermediate key from the coordinator to the cluster's other
 * servers. It travels over a gossip stream (channel 3), which is encrypted only when the operator set
 * a gossip key, so the key is sealed to the requesting server's agent certificate instead (ECIES:
 * ephemeral P-256 ECDH, HKDF-SHA256, AES-256-GCM): only the holder of that agent key can open it.
 * The coordinator hands it out only to a requester whose agent certificate chains to a root in the
 * bundle, names an agent of this cluster, and belongs to a live server member per gossip.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, X509Certificate, createPublicKey } from 'node:crypto';

const INFO = Buffer.from('shoal-ca-intermediate-key-v1');

/** Seals `keyPem` so that only the private key of `recipientCertPem` opens it. Base64 of a small JSON document. */
export function sealKey(keyPem: string, recipientCertPem: string): string {
  const recipient = new X509Certificate(recipientCertPem).publicKey;
  const eph = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
  const salt = randomBytes(16);
  const key = Buffer.from(hkdfSync('sha256', shared, salt, INFO, 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(keyPem, 'utf8'), cipher.final()]);
  const doc = {
    e: eph.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    s: salt.toString('base64'), i: iv.toString('base64'), t: cipher.getAuthTag().toString('base64'), c: ct.toString('base64'),
  };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

/** Opens what `sealKey` sealed, with the recipient's private key PEM; throws when it was not for this key or was altered. */
export function openKey(sealed: string, recipientKeyPem: string): string {
  const doc = JSON.parse(Buffer.from(sealed, 'base64').toString('utf8')) as Record<string, string>;
  const eph = createPublicKey({ key: Buffer.from(doc['e'] ?? '', 'base64'), format: 'der', type: 'spki' });
  const shared = diffieHellman({ privateKey: createPrivateKey(recipientKeyPem), publicKey: eph });
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.from(doc['s'] ?? '', 'base64'), INFO, 32));
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(doc['i'] ?? '', 'base64'));
  decipher.setAuthTag(Buffer.from(doc['t'] ?? '', 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(doc['c'] ?? '', 'base64')), decipher.final()]).toString('utf8');
}

/**
 * Verifies that `leafPem` chains, through `chainPems` and `intermediatePems` (untrusted), to one of
 * `rootPems`, every certificate valid at `nowMs`. Returns the leaf's URI SANs; throws naming the
 * failure. Depth is bounded (leaf, at most two CAs, root) as Shoal's paths are.
 */
export function verifyChain(leafPem: string, chainPems: readonly string[], intermediatePems: readonly string[], rootPems: readonly string[], nowMs: number): string[] {
  const leaf = new X509Certificate(leafPem);
  const pool = [...chainPems, ...intermediatePems].map((p) => new X509Certificate(p));
  const roots = rootPems.map((p) => new X509Certificate(p));
  const current = (c: X509Certificate): boolean => Date.parse(c.validFrom) <= nowMs && nowMs <= Date.parse(c.validTo);
  if (!current(leaf)) throw new Error('the certificate is expired or not yet valid');
  if (leaf.ca) throw new Error('the certificate is a CA, not a leaf');
  const issuedBy = (c: X509Certificate, by: X509Certificate): boolean => by.ca && current(by) && c.checkIssued(by) && c.verify(by.publicKey);
  let level: X509Certificate[] = [leaf];
  for (let depth = 0; depth < 3; depth++) {
    if (level.some((c) => roots.some((r) => issuedBy(c, r)))) return sanUris(leaf);
    level = pool.filter((ca) => level.some((c) => issuedBy(c, ca)));
    if (level.length === 0) break;
  }
  throw new Error('the certificate does not chain to a root in the trust bundle');
}

/** URI SANs of a certificate. */
export function sanUris(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
}
