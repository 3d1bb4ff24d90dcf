import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unwrapHclBlocks } from '../../src/cli/definition-file';
import { FakeConfigEntries } from '../http/fake-catalog';
import { startCli, type CliHarness } from './cli-harness';

const store = new FakeConfigEntries();
const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-config-'));
let cli: CliHarness;

before(async () => {
  cli = await startCli({ configEntries: store });
});
after(() => cli.api.server.close());

test('config write FILE.hcl sends Consul\'s JSON: blocks that are objects become objects, lists stay lists', async () => {
  const file = join(dir, 'resolver.hcl');
  writeFileSync(file, [
    'Kind = "proxy-defaults"',
    'Name = "global"',
    'Config {',
    '  protocol = "http"',
    '}',
    'MeshGateway {',
    '  Mode = "local"',
    '}',
  ].join('\n'));
  const r = await cli.run(['config', 'write', file]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Config entry written: proxy-defaults/global\n');
  assert.deepEqual(store.get('proxy-defaults', 'global')!.entry, { Kind: 'proxy-defaults', Name: 'global', Config: { protocol: 'http' }, MeshGateway: { Mode: 'local' } });
});

test('unwrapHclBlocks keeps lists and opaque maps as they are', () => {
  assert.deepEqual(unwrapHclBlocks({
    Kind: 'service-intentions', Name: 'web', Sources: [{ Name: 'api', Action: 'allow' }],
    Meta: [{ check: [{ x: 1 }] }],
  }), { Kind: 'service-intentions', Name: 'web', Sources: [{ Name: 'api', Action: 'allow' }], Meta: { check: [{ x: 1 }] } });
  assert.deepEqual(unwrapHclBlocks({ service: [{ name: 'web', check: [{ ttl: '5s' }], checks: [{ ttl: '1s' }], connect: [{ sidecar_service: [{ proxy: [{ upstreams: [{ destination_name: 'db' }] }] }] }] }] }), {
    service: [{ name: 'web', check: { ttl: '5s' }, checks: [{ ttl: '1s' }], connect: { sidecar_service: { proxy: { upstreams: [{ destination_name: 'db' }] } } } }],
  });
});

test('config write - (JSON on stdin) with -cas -modify-index', async () => {
  const body = JSON.stringify({ Kind: 'service-defaults', Name: 'web', Protocol: 'http' });
  const first = await cli.run(['config', 'write', '-cas', '-modify-index', '0', '-'], body);
  assert.equal(first.code, 0, first.err);
  const again = await cli.run(['config', 'write', '-cas', '-modify-index=0', '-'], body);
  assert.equal(again.code, 1);
  assert.match(again.err, /^Error: Config entry not updated: service-defaults\/web/);
  const idx = store.get('service-defaults', 'web')!.modifyIndex;
  assert.equal((await cli.run(['config', 'write', '-cas', '-modify-index', String(idx), '-'], body)).code, 0);
  assert.match((await cli.run(['config', 'write', '-cas', '-'], body)).err, /-cas needs -modify-index/);
  assert.match((await cli.run(['config', 'write', '-modify-index', '3', '-'], body)).err, /-modify-index needs -cas/);
});

test('config read prints the entry as JSON; a missing one fails', async () => {
  const r = await cli.run(['config', 'read', '-kind', 'service-defaults', '-name', 'web']);
  assert.equal(r.code, 0, r.err);
  const entry = JSON.parse(r.out) as Record<string, unknown>;
  assert.equal(entry['Protocol'], 'http');
  assert.equal(typeof entry['ModifyIndex'], 'number');
  assert.ok(r.out.includes('\n    "Kind"'), 'indented like consul config read');
  const missing = await cli.run(['config', 'read', '-kind', 'service-defaults', '-name', 'ghost']);
  assert.equal(missing.code, 1);
  assert.equal(missing.err, 'Error: config entry not found for "service-defaults" / "ghost"\n');
  assert.match((await cli.run(['config', 'read', '-kind', 'service-defaults'])).err, /-name is required/);
});

test('config list prints the names of a kind', async () => {
  await cli.run(['config', 'write', '-'], JSON.stringify({ Kind: 'service-defaults', Name: 'api' }));
  assert.equal((await cli.run(['config', 'list', '-kind', 'service-defaults'])).out, 'api\nweb\n');
  assert.equal((await cli.run(['config', 'list', '-kind', 'nonsense'])).code, 1);
});

test('config delete, plain and check-and-set', async () => {
  const idx = store.get('service-defaults', 'web')!.modifyIndex;
  const stale = await cli.run(['config', 'delete', '-kind', 'service-defaults', '-name', 'web', '-cas', '-modify-index', String(idx + 1)]);
  assert.equal(stale.code, 1);
  assert.match(stale.err, /Config entry not deleted: service-defaults\/web/);
  const cas = await cli.run(['config', 'delete', '-kind', 'service-defaults', '-name', 'web', '-cas', '-modify-index', String(idx)]);
  assert.equal(cas.out, 'Config entry deleted: service-defaults/web\n');
  const plain = await cli.run(['config', 'delete', '-kind', 'service-defaults', '-name', 'api']);
  assert.equal(plain.out, 'Config entry deleted: service-defaults/api\n');
  assert.deepEqual(store.list('service-defaults'), []);
});

test('an invalid entry prints every problem', async () => {
  const r = await cli.run(['config', 'write', '-'], JSON.stringify({ Kind: 'nope' }));
  assert.equal(r.code, 1);
  assert.equal(r.err, 'Error: request body: Kind: unknown kind\nrequest body: Name: required\n');
});
