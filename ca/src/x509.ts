/**
 * The one place that loads @peculiar/x509: it needs a Reflect metadata polyfill before it loads (it
 * throws at import time otherwise) and a WebCrypto provider, Node's here. Other CA modules import the
 * library from this file so neither step can be forgotten.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library types its provider with the DOM `Crypto`, which Node's webcrypto implements.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };

/** ECDSA over P-256 with SHA-256: the only algorithm Shoal's CA issues or accepts. */
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** The WebCrypto subtle API, typed as Node declares it. */
export const subtle = webcrypto.subtle;

/** Node's WebCrypto key type. */
export type CryptoKey = webcrypto.CryptoKey;
/** A private key and its public key. */
export interface CryptoKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}
