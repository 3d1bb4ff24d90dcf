// Tests agent/src/config/ca-config.ts (kept with the CA tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, redactedConfig } from '../../src/config';

async function problems(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n').slice(1).map((l) => l.trim());
  }
  return assert.fail('expected the configuration to be refused');
}

const doc = (raw: Record<string, unknown>) => ({ documents: [{ source: 'test.json', raw: { data_dir: '/d', ...raw } }], hostname: 'n1' });
const TOKEN = 'a-bootstrap-token-of-some-length';

test('no ca block outside dev mode: the CA is off; default intention policy deny', async () => {
  const c = await loadConfig(doc({}));
  assert.equal(c.ca, undefined);
  assert.equal(c.defaultIntentionPolicy, 'deny');
});

test('dev mode: CA on with trust domain shoal.dev, 72 h leaves, 50/s, default allow', async () => {
  const c = await loadConfig({ dev: true, hostname: 'n1' });
  assert.deepEqual(c.ca, {
    trustDomain: 'shoal.dev', bootstrapToken: undefined, bootstrapTokenFile: undefined, rootCertFile: undefined, intermediateCertFile: undefined,
    intermediateKeyFile: undefined, leafTtlMs: 72 * 3_600_000, signRatePerSec: 50, signBurst: 50,
  });
  assert.equal(c.defaultIntentionPolicy, 'allow');
});

test('a client with a token file and root; paths resolved; settings typed', async () => {
  const c = await loadConfig(doc({
    ca: { trust_domain: 'mesh.example', bootstrap_token_file: '/etc/shoal.d/ca-bootstrap-token', root_cert_file: 'root.pem', leaf_ttl: '24h', sign_rate_per_sec: 100 },
    default_intention_policy: 'allow',
  }));
  assert.equal(c.ca?.trustDomain, 'mesh.example');
  assert.equal(c.ca?.leafTtlMs, 24 * 3_600_000);
  assert.equal(c.ca?.signRatePerSec, 100);
  assert.equal(c.ca?.signBurst, 100, 'burst defaults to one second of rate');
  assert.ok(c.ca?.rootCertFile?.startsWith('/'));
  assert.equal(c.defaultIntentionPolicy, 'allow');
});

test('every CA problem is reported in one run, naming the field; the token is never echoed', async () => {
  const lines = await problems(loadConfig(doc({
    server: true,
    ca: { bootstrap_token: 'short', leaf_ttl: '30m', intermediate_key_file: 'k.pem', sign_burst: 0 },
    default_intention_policy: 'maybe',
  })));
  const text = lines.join('\n');
  assert.match(text, /ca\.bootstrap_token: expected a token of at least 16 characters, got a value of 5 characters/);
  assert.doesNotMatch(text, /short/);
  assert.match(text, /ca\.trust_domain: is required when any CA setting is given/);
  assert.match(text, /ca\.leaf_ttl: expected a duration from 1h to 8760h, got 30m/);
  assert.match(text, /ca\.intermediate_cert_file: is required with the other intermediate setting/);
  assert.match(text, /ca\.root_cert_file: is required on servers/);
  assert.match(text, /ca\.sign_burst: expected an integer from 1 to 100000/);
  assert.match(text, /default_intention_policy: expected one of allow, deny/);
});

test('servers need their intermediate; clients need a token; not both token forms; no intermediate on clients', async () => {
  const server = await problems(loadConfig(doc({ server: true, ca: { trust_domain: 'm.example', bootstrap_token: TOKEN, root_cert_file: 'r.pem' } })));
  assert.match(server.join('\n'), /ca\.intermediate_cert_file: is required on servers .*`shoal ca intermediate`/);
  const client = await problems(loadConfig(doc({ ca: { trust_domain: 'm.example' } })));
  assert.match(client.join('\n'), /ca\.bootstrap_token_file: is required .* \/etc\/shoal\.d\/ca-bootstrap-token/);
  const both = await problems(loadConfig(doc({ ca: { trust_domain: 'm.example', bootstrap_token: TOKEN, bootstrap_token_file: '/t' } })));
  assert.match(both.join('\n'), /cannot be set together/);
  const onClient = await problems(loadConfig(doc({ ca: { trust_domain: 'm.example', bootstrap_token: TOKEN, intermediate_cert_file: 'i.pem', intermediate_key_file: 'k.pem' } })));
  assert.match(onClient.join('\n'), /is a server setting/);
});

test('redactedConfig hides the bootstrap token', async () => {
  const c = await loadConfig(doc({ ca: { trust_domain: 'm.example', bootstrap_token: TOKEN } }));
  const shown = JSON.stringify(redactedConfig(c));
  assert.doesNotMatch(shown, new RegExp(TOKEN));
  assert.match(shown, /\[redacted\]/);
});
