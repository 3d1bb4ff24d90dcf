import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servicesInFile } from '../../src/cli/command-services';
import { FakeLocal } from '../http/fake-catalog';
import { startCli, type CliHarness } from './cli-harness';

const local = new FakeLocal();
const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-services-'));
let cli: CliHarness;

before(async () => {
  cli = await startCli({ local });
});
after(() => cli.api.server.close());

test('services register FILE (HCL) registers each service block with Consul\'s body shape', async () => {
  const file = join(dir, 'web.hcl');
  writeFileSync(file, [
    'service {',
    '  name = "web"',
    '  id   = "web-1"',
    '  port = 8080',
    '  tags = ["v1"]',
    '  check {',
    '    ttl = "10s"',
    '  }',
    '}',
    'service {',
    '  name = "api"',
    '  port = 9000',
    '}',
  ].join('\n'));
  const r = await cli.run(['services', 'register', file]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Registered service: web\nRegistered service: api\n');
  assert.deepEqual(local.calls.slice(-2), ['register web-1', 'register api']);
  // The check block arrived as one object (the fake made a TTL check from it).
  assert.ok(local.checks().some((c) => c.checkId === 'service:web-1' && c.type === 'ttl'));
});

test('shoal services lists ID, Service, Port, Tags, Health', async () => {
  const r = await cli.run(['services']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, [
    'ID     Service  Port  Tags  Health',
    'api    api      9000        passing',
    'web-1  web      8080  v1    critical',
    '',
  ].join('\n'));
});

test('services register - reads JSON from standard input; a refused definition prints every problem', async () => {
  const ok = await cli.run(['services', 'register', '-'], JSON.stringify({ service: { name: 'db', port: 5432 } }));
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, 'Registered service: db\n');
  const bad = await cli.run(['services', 'register', '-'], JSON.stringify({ services: [{ port: 99999 }] }));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^Error: request body: Name: required: a non-empty string\nrequest body: Port: expected an integer from 0 to 65535\n$/);
});

test('services deregister ID; unknown IDs fail with one line', async () => {
  const r = await cli.run(['services', 'deregister', 'db', '-http-addr', cli.api.base]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Deregistered service: db\n');
  const again = await cli.run(['services', 'deregister', 'db']);
  assert.equal(again.code, 1);
  assert.equal(again.err, 'Error: unknown service ID "db"\n');
});

test('a file without a service, a missing file and bad HCL are clear errors', async () => {
  assert.throws(() => servicesInFile({ Kind: 'service-defaults' }, 'x.json'), /no service definition found/);
  const missing = await cli.run(['services', 'register', join(dir, 'nope.hcl')]);
  assert.match(missing.err, /cannot read .*nope\.hcl: no such file or directory/);
  const badFile = join(dir, 'bad.hcl');
  writeFileSync(badFile, 'service {\n  name = \n}\n');
  const bad = await cli.run(['services', 'register', badFile]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /bad\.hcl:\d+,\d+: HCL syntax error/);
});
