/**
 * ECDSA P-256 key pairs and their PEM forms. Private keys are PKCS#8 PEM ("PRIVATE KEY"); SEC1
 * ("EC PRIVATE KEY", what `openssl ecparam -genkey` writes) is accepted on import. Nothing here logs.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CaError, CaLocalErrorCode } from './errors';
import { EC_P256, subtle, type CryptoKey, type CryptoKeyPair } from './x509';

/** A new extractable ECDSA P-256 key pair (extractable so it can be written to disk as PEM). */
export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(EC_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function pem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** PEM of a key: PKCS#8 "PRIVATE KEY" for a private key, SPKI "PUBLIC KEY" for a public one. */
export async function exportKeyPem(key: CryptoKey): Promise<string> {
  if (key.type === 'private') return pem('PRIVATE KEY', await subtle.exportKey('pkcs8', key));
  return pem('PUBLIC KEY', await subtle.exportKey('spki', key));
}

/** Parses a P-256 private key PEM (PKCS#8 or SEC1) into a Node KeyObject; throws CaError(material). */
export function privateKeyObject(keyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch {
    // The parser's message can quote the input; the key must not reach a log.
    throw new CaError(CaLocalErrorCode.material, 'private key is not a valid PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CaError(CaLocalErrorCode.material, `private key must be ECDSA P-256, got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
  }
  return key;
}

/** Imports a P-256 private key PEM (PKCS#8 or SEC1) as a WebCrypto key pair. */
export async function importKeyPem(keyPem: string): Promise<CryptoKeyPair> {
  const key = privateKeyObject(keyPem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, EC_P256, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, EC_P256, true, ['verify']);
  return { privateKey, publicKey };
}

/**
 * The RFC 5280 (4.2.1.2, method 1) key identifier: SHA-1 of the subjectPublicKey bits, which for
 * P-256 is the 65-byte uncompressed point. Hex, lower case. Roots are identified by it (`rootId`).
 */
export function keyIdOfPoint(point: Uint8Array): string {
  return createHash('sha1').update(point).digest('hex');
}

/** The key identifier of a WebCrypto public key. */
export async function keyIdOf(publicKey: CryptoKey): Promise<string> {
  return keyIdOfPoint(new Uint8Array(await subtle.exportKey('raw', publicKey)));
}
