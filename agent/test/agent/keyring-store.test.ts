import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseKeyring, KeyringStore, readKeyringFile } from '../../src/agent/keyring-store';
import { generateKey, Keyring } from '../../src/gossip/keyring';

const K1 = generateKey();
const K2 = generateKey();
const K3 = generateKey();

test('a persisted keyring wins over encrypt, with a warning that names the file and never a key', () => {
  const c = chooseKeyring({ primary: K2, keys: [K2, K1] }, K1, '/data/keyring.json');
  assert.equal(c.source, 'file');
  assert.deepEqual(c.keyring, { primary: K2, keys: [K2, K1] });
  assert.equal(c.seed, false);
  assert.ok(c.warning !== undefined);
  assert.match(c.warning, /\/data\/keyring\.json exists and wins/);
  assert.match(c.warning, /installed but is no longer primary/);
  for (const k of [K1, K2]) assert.ok(!c.warning.includes(k));
  const notIn = chooseKeyring({ primary: K2, keys: [K2] }, K3, '/k');
  assert.match(notIn.warning!, /not in it/);
});

test('no warning when encrypt is the persisted primary; encrypt alone seeds; neither means no encryption', () => {
  assert.equal(chooseKeyring({ primary: K1, keys: [K1, K2] }, K1, '/k').warning, undefined);
  assert.equal(chooseKeyring({ primary: K1, keys: [K1] }, undefined, '/k').source, 'file');
  assert.deepEqual(chooseKeyring(undefined, K1, '/k'), { keyring: { primary: K1, keys: [K1] }, source: 'encrypt', seed: true, warning: undefined });
  assert.deepEqual(chooseKeyring(undefined, undefined, '/k'), { keyring: undefined, source: 'none', seed: false, warning: undefined });
});

test('the store writes atomically with mode 0600 and reads back what it wrote', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-keyring-'));
  const store = new KeyringStore(join(dir, 'keyring.json'));
  assert.equal(await store.read(), undefined);
  const ring = Keyring.fromBase64([K1, K2], K2);
  await store.save(ring);
  assert.equal(statSync(store.path).mode & 0o777, 0o600);
  assert.deepEqual(await store.read(), { primary: K2, keys: [K2, K1] });
  // Concurrent saves land in call order; no temp files are left behind.
  ring.install(Buffer.from(K3, 'base64'));
  const a = store.save(ring);
  ring.use(Buffer.from(K3, 'base64'));
  const b = store.save(ring);
  await Promise.all([a, b]);
  assert.deepEqual(await store.read(), { primary: K3, keys: [K3, K2, K1] });
  assert.deepEqual(readdirSync(dir), ['keyring.json']);
});

test('Consul\'s array format is read (primary first)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-keyring-'));
  const path = join(dir, 'local.keyring');
  writeFileSync(path, JSON.stringify([K1, K2]));
  assert.deepEqual(await readKeyringFile(path), { primary: K1, keys: [K1, K2] });
});

test('a corrupt keyring file is a clear error naming the file and not the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-keyring-'));
  const path = join(dir, 'keyring.json');
  for (const [content, why] of [
    ['not json', /not valid JSON/],
    ['{"primary": 5, "keys": []}', /expected \{"primary"/],
    [JSON.stringify({ primary: 'c2hvcnQ=', keys: ['c2hvcnQ='] }), /decodes to 5 bytes/],
  ] as const) {
    writeFileSync(path, content);
    await assert.rejects(readKeyringFile(path), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SHOAL_ERR_KEYRING_FILE');
      assert.match(err.message, new RegExp(path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      assert.match(err.message, why);
      return true;
    });
  }
  assert.ok(!readFileSync(path, 'utf8').includes(K1));
});
