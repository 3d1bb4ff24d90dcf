import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualClock } from '../../agent/src/core/clock';
import { CaError, CaLocalErrorCode, createRoot, exportKeyPem, generateKeyPair, importKeyPem, readMaterial, writeMaterial } from '../src';
import { openssl, tempDir } from './helpers';

const tmp = tempDir();
after(() => tmp.cleanup());
const clock = new VirtualClock(0);

test('writeMaterial writes the key 0600 and the certificate 0644, and readMaterial reads them back', async () => {
  const root = await createRoot({ trustDomain: 'example.org', clock });
  const dir = join(tmp.dir, 'a', 'b');
  const paths = await writeMaterial(dir, 'root-ca', root);
  assert.equal(paths.certPath, join(dir, 'root-ca.pem'));
  assert.equal(paths.keyPath, join(dir, 'root-ca-key.pem'));
  assert.equal(statSync(paths.keyPath).mode & 0o777, 0o600);
  assert.equal(statSync(paths.certPath).mode & 0o777, 0o644);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(await readMaterial(paths.certPath, paths.keyPath), { certPem: root.certPem, keyPem: root.keyPem });
  // No temporary files are left behind.
  assert.deepEqual(readdirSync(dir).sort(), ['root-ca-key.pem', 'root-ca.pem']);
  // openssl reads both.
  assert.equal(openssl(['pkey', '-in', paths.keyPath, '-noout']).status, 0);
  assert.equal(openssl(['x509', '-in', paths.certPath, '-noout']).status, 0);
});

test('writeMaterial refuses to overwrite without force, naming the file, and replaces with force', async () => {
  const a = await createRoot({ trustDomain: 'example.org', clock });
  const b = await createRoot({ trustDomain: 'example.org', clock });
  const dir = join(tmp.dir, 'refuse');
  const paths = await writeMaterial(dir, 'root-ca', a);
  await assert.rejects(writeMaterial(dir, 'root-ca', b), (err: unknown) =>
    err instanceof CaError && err.code === CaLocalErrorCode.material && err.message.includes(paths.certPath) && /refusing to overwrite.*--force/.test(err.message));
  assert.deepEqual(await readMaterial(paths.certPath, paths.keyPath), { certPem: a.certPem, keyPem: a.keyPem });
  // Only the key exists: still refused, and the message names the key file.
  const dir2 = join(tmp.dir, 'refuse-key');
  await writeMaterial(dir2, 'x', a);
  const { rmSync } = await import('node:fs');
  rmSync(join(dir2, 'x.pem'));
  await assert.rejects(writeMaterial(dir2, 'x', b), new RegExp(`${join(dir2, 'x-key.pem')} already exists`));
  await writeMaterial(dir, 'root-ca', b, { force: true });
  assert.deepEqual(await readMaterial(paths.certPath, paths.keyPath), { certPem: b.certPem, keyPem: b.keyPem });
  assert.equal(statSync(paths.keyPath).mode & 0o777, 0o600);
});

test('readMaterial refuses a key that does not belong to the certificate, and names missing files', async () => {
  const a = await createRoot({ trustDomain: 'example.org', clock });
  const b = await createRoot({ trustDomain: 'example.org', clock });
  const dir = join(tmp.dir, 'mismatch');
  await writeMaterial(dir, 'a', a);
  await writeMaterial(dir, 'b', b);
  await assert.rejects(readMaterial(join(dir, 'a.pem'), join(dir, 'b-key.pem')), /b-key.pem does not belong to certificate .*a.pem/);
  await assert.rejects(readMaterial(join(dir, 'missing.pem'), join(dir, 'a-key.pem')), /cannot read certificate .*missing.pem: ENOENT/);
  writeFileSync(join(dir, 'junk-key.pem'), 'not a key');
  await assert.rejects(readMaterial(join(dir, 'a.pem'), join(dir, 'junk-key.pem')), (err: unknown) => err instanceof CaError && !err.message.includes('not a key'));
});

test('keys: PKCS#8 export, import of PKCS#8 and of SEC1 (openssl ecparam) keys, P-256 only', async () => {
  const keys = await generateKeyPair();
  const pem = await exportKeyPem(keys.privateKey);
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  const back = await importKeyPem(pem);
  assert.equal(back.privateKey.type, 'private');
  assert.equal(back.publicKey.type, 'public');
  assert.match(await exportKeyPem(keys.publicKey), /^-----BEGIN PUBLIC KEY-----\n/);
  const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
  assert.match(sec1.stdout, /BEGIN EC PRIVATE KEY/);
  await importKeyPem(sec1.stdout);
  const p384 = openssl(['ecparam', '-name', 'secp384r1', '-genkey', '-noout']);
  await assert.rejects(importKeyPem(p384.stdout), /must be ECDSA P-256, got ec secp384r1/);
});
