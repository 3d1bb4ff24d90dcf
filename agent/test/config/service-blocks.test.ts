import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config';
import { parseDefinitionDocuments } from '../../src/catalog/definition';
import { tempDir, writeFiles } from './helpers';

test('config files may carry service, services, check and checks blocks: passed through per file', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    'agent.hcl': 'data_dir = "/var/lib/shoal"\nnode_name = "vm-1"\n',
    'web.hcl': `
      service {
        name = "web"
        port = 8080
        check {
          http     = "http://127.0.0.1:8080/health"
          interval = "10s"
        }
      }
      check {
        name = "disk"
        args = ["/usr/lib/nagios/check_disk"]
        interval = "1m"
      }`,
    'more.json': JSON.stringify({ services: [{ name: 'api', port: 9000 }], checks: [{ name: 'mem', ttl: '30s' }], log_level: 'debug' }),
  });
  const c = await loadConfig({ paths: [{ kind: 'dir', path: dir }], hostname: 'h' });
  assert.equal(c.nodeName, 'vm-1');
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.serviceDefinitions.map((d) => [d.source, Object.keys(d.raw as object).sort()]), [
    [f['more.json'], ['checks', 'services']],
    [f['web.hcl'], ['check', 'service']],
  ]);
  // What the loader passes through is what the registry's parser reads.
  const parsed = parseDefinitionDocuments(c.serviceDefinitions);
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(parsed.set.services.map((d) => d.service.id), ['api', 'web']);
  assert.deepEqual(parsed.set.checks.map((x) => x.check.id), ['mem', 'disk']);
});

test('config without service blocks has no definitions; other unknown keys are still refused', async () => {
  const c = await loadConfig({ flags: { dataDir: '/d' }, hostname: 'n' });
  assert.deepEqual(c.serviceDefinitions, []);
  const dir = tempDir();
  writeFiles(dir, { 'a.json': JSON.stringify({ data_dir: '/d', service: { name: 'x' }, servise: {} }) });
  await assert.rejects(loadConfig({ paths: [{ kind: 'dir', path: dir }], hostname: 'n' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.map((p) => [p.field, p.message]), [['servise', 'unknown key (did you mean "service"?)']]);
    return true;
  });
});
