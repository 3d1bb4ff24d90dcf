import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { CaError, CaErrorCode, createCsr, generateKeyPair, inspectCsr, validateCsr, type Identity } from '../src';
import { x509 } from '../src/x509';
import { agentId, openssl, serviceId, tempDir } from './helpers';

const WEB = serviceId('web');
const WEB_URI = 'spiffe://example.org/ns/default/dc/dc1/svc/web';
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const tmp = tempDir();
let goodPem = '';
let goodDer: Buffer = Buffer.alloc(0);

before(async () => {
  goodPem = await createCsr({ identity: WEB, keys: await generateKeyPair() });
  goodDer = derOf(goodPem);
});
after(() => tmp.cleanup());

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
}

function pemOf(der: Uint8Array, width = 64): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

/** A CSR made by @peculiar/x509 with whatever extensions and key we ask for. */
async function customCsr(opts: { extensions?: x509.Extension[]; attributes?: x509.Attribute[]; keys?: CryptoKeyPairLike; alg?: object }): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys: (opts.keys ?? (await generateKeyPair())) as never,
    signingAlgorithm: (opts.alg ?? P256) as never,
    extensions: opts.extensions ?? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: WEB_URI }])],
    ...(opts.attributes ? { attributes: opts.attributes } : {}),
  });
  return csr.toString('pem');
}
type CryptoKeyPairLike = { privateKey: unknown; publicKey: unknown };

async function refusedWith(pem: string, pattern: RegExp, expected: Identity = WEB): Promise<void> {
  await assert.rejects(validateCsr(pem, expected), (err: unknown) => {
    assert.ok(err instanceof CaError, `not a CaError: ${String(err)}`);
    assert.equal(err.code, CaErrorCode.csrInvalid);
    assert.match(err.message, pattern);
    return true;
  });
}

const san = (...names: x509.JsonGeneralName[]): x509.SubjectAlternativeNameExtension => new x509.SubjectAlternativeNameExtension(names);

test('a CSR from createCsr validates and yields its P-256 public key', async () => {
  const keys = await generateKeyPair();
  const pem = await createCsr({ identity: WEB, keys });
  const { publicKey } = await validateCsr(pem, WEB);
  assert.deepEqual(publicKey.algorithm, { name: 'ECDSA', namedCurve: 'P-256' });
  const a = Buffer.from(await webcrypto.subtle.exportKey('raw', publicKey));
  const b = Buffer.from(await webcrypto.subtle.exportKey('raw', keys.publicKey));
  assert.ok(a.equals(b));
  assert.deepEqual(inspectCsr(pem).identity, WEB);
});

test('a CSR made by openssl with only a URI SAN is accepted (interoperability)', async () => {
  const key = `${tmp.dir}/k.pem`;
  assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).status, 0);
  const r = openssl(['req', '-new', '-key', key, '-subj', '/CN=web', '-addext', `subjectAltName=URI:${WEB_URI}`]);
  assert.equal(r.status, 0, r.stderr);
  await validateCsr(r.stdout, WEB);
});

test('refusals name the problem', async () => {
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: WEB_URI }, { type: 'dns', value: 'web.example.org' })] }), /exactly one URI.*got URI, DNS name/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'dns', value: 'web.example.org' })] }), /exactly one URI.*got DNS name/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: WEB_URI }, { type: 'url', value: WEB_URI })] }), /exactly one URI.*got URI, URI/);
  await refusedWith(await customCsr({ extensions: [new x509.BasicConstraintsExtension(true)] }), /requests extension basicConstraints/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: WEB_URI }), new x509.BasicConstraintsExtension(true, 0, true)] }), /requests extension basicConstraints \(2\.5\.29\.19\)/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: WEB_URI }), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)] }), /requests extension keyUsage/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: WEB_URI }), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning])] }), /requests extension extKeyUsage/);
  await refusedWith(await customCsr({ extensions: [] }), /no subjectAltName/);
  await refusedWith(await customCsr({ extensions: [san({ type: 'url', value: 'https://web.example.org/' })] }), /not a Shoal SPIFFE ID.*must start with "spiffe:\/\/"/);
  await refusedWith(await customCsr({}), /URI SAN is spiffe:\/\/example.org\/ns\/default\/dc\/dc1\/svc\/web, expected spiffe:\/\/example.org\/ns\/default\/dc\/dc1\/svc\/db/, serviceId('db'));
  await refusedWith(await customCsr({}), /expected spiffe:\/\/example.org\/agent\/dc\/dc1\/node\/web/, agentId('web'));
  await refusedWith(await customCsr({ attributes: [new x509.ChallengePasswordAttribute('secret')] }), /attribute challengePassword .* is not accepted/);
});

test('keys other than P-256 are refused by name', async () => {
  const rsa = await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  await refusedWith(await customCsr({ keys: rsa, alg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } }), /key must be ECDSA P-256, got RSA/);
  const p384 = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
  await refusedWith(await customCsr({ keys: p384, alg: { name: 'ECDSA', hash: 'SHA-384' } }), /key must be ECDSA P-256, got EC public key .* P-384/);
  const ed = await webcrypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  await refusedWith(await customCsr({ keys: ed as CryptoKeyPairLike, alg: { name: 'Ed25519' } }), /key must be ECDSA P-256, got Ed25519/);
  // P-256 but signed with SHA-384.
  await refusedWith(await customCsr({ alg: { name: 'ECDSA', hash: 'SHA-384' } }), /signature algorithm must be ecdsa-with-SHA256.*ecdsa-with-SHA384/);
});

test('a CSR whose signature does not verify is refused', async () => {
  // Same structure, another key's public key put in: the signature no longer matches.
  const other = derOf(await createCsr({ identity: WEB, keys: await generateKeyPair() }));
  const spkiAt = (der: Buffer): number => der.indexOf(Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'));
  const swapped = Buffer.from(goodDer);
  other.copy(swapped, spkiAt(swapped), spkiAt(other), spkiAt(other) + 91);
  await refusedWith(pemOf(swapped), /signature does not verify/);
  // A point that is not on the curve.
  const offCurve = Buffer.from(goodDer);
  offCurve[spkiAt(offCurve) + 90]! ^= 0x01;
  await refusedWith(pemOf(offCurve), /public key is not a valid P-256 point/);
  // A flipped bit in the signature value.
  const flipped = Buffer.from(goodDer);
  flipped[flipped.length - 5]! ^= 0x01;
  await refusedWith(pemOf(flipped), /signature does not verify|malformed/);
});

test('size cap, PEM framing and DER strictness', async () => {
  await refusedWith(goodPem + ' '.repeat(8192), /bytes; at most 8192 accepted/);
  await assert.rejects(validateCsr(goodPem, WEB, { maxBytes: 100 }), /at most 100 accepted/);
  await refusedWith('garbage', /not one PEM block/);
  await refusedWith(goodPem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'), /not one PEM block/);
  await refusedWith(goodPem + goodPem, /not one PEM block/);
  await refusedWith(pemOf(Buffer.concat([goodDer, Buffer.from([0])])), /trailing bytes|runs past/);
  // Long-form length where the short form fits is not DER.
  const nonMinimal = Buffer.concat([Buffer.from([0x30, 0x82, 0x00, goodDer[1]!]), goodDer.subarray(2)]);
  await refusedWith(pemOf(nonMinimal), /not minimally encoded|malformed/);
  // Indefinite length.
  await refusedWith(pemOf(Buffer.concat([Buffer.from([0x30, 0x80]), goodDer.subarray(2), Buffer.from([0, 0])])), /indefinite length/);
});

test('PEM line width does not matter (fragments of any size)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 200 }), async (width) => {
      await validateCsr(pemOf(goodDer, width), WEB);
    }),
    { numRuns: 60 },
  );
});

/** The property every hostile input must satisfy: refused with a CaError(SHOAL_ERR_CSR_INVALID), never anything else. */
async function onlyCsrInvalid(input: string): Promise<void> {
  try {
    await validateCsr(input, WEB);
  } catch (err) {
    assert.ok(err instanceof CaError, `threw ${String(err)}`);
    assert.equal(err.code, CaErrorCode.csrInvalid);
    return;
  }
  assert.fail('accepted a hostile CSR');
}

test('fast-check: arbitrary strings are refused with CaError only', async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 600 }), onlyCsrInvalid), { numRuns: 500 });
});

test('fast-check: arbitrary bytes in a PEM frame are refused with CaError only', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 800 }), (bytes) => onlyCsrInvalid(pemOf(bytes))), { numRuns: 500 });
});

test('fast-check: every truncation of a valid CSR is refused with CaError only', async () => {
  for (let n = 0; n < goodDer.length; n++) await onlyCsrInvalid(pemOf(goodDer.subarray(0, n)));
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: goodPem.trimEnd().length - 1 }), (n) => onlyCsrInvalid(goodPem.slice(0, n))), { numRuns: 200 });
});

test('fast-check: any one-byte change to a valid CSR is refused with CaError only', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
      const der = Buffer.from(goodDer);
      der[i % der.length]! ^= x;
      await onlyCsrInvalid(pemOf(der));
    }),
    { numRuns: 1000 },
  );
});

test('fast-check: random DER-shaped input (nested TLVs) is refused with CaError only', async () => {
  const tlv: fc.Memo<Uint8Array> = fc.memo((depth) =>
    depth <= 1
      ? fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([t, v]) => Uint8Array.from([t & 0xdf, v.length, ...v]))
      : fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0x04, 0x03), fc.array(tlv(depth - 1), { maxLength: 4 })).map(([t, kids]) => {
        const body = Buffer.concat(kids);
        const len = body.length < 128 ? [body.length] : [0x82, body.length >> 8, body.length & 0xff];
        return Uint8Array.from([t, ...len, ...body]);
      }),
  );
  await fc.assert(fc.asyncProperty(tlv(5), (der) => onlyCsrInvalid(pemOf(der))), { numRuns: 500 });
});
