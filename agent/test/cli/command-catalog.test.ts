import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeCatalog, sampleNodes } from '../http/fake-catalog';
import { startCli, type CliHarness } from './cli-harness';

let cli: CliHarness;

before(async () => {
  cli = await startCli({ catalog: new FakeCatalog(sampleNodes()) });
});
after(() => cli.api.server.close());

test('catalog nodes, and -service to keep the nodes of one service', async () => {
  const all = await cli.run(['catalog', 'nodes']);
  assert.equal(all.code, 0, all.err);
  assert.equal(all.out, 'Node  Address   DC\nn1    10.0.0.1  dc1\nn2    10.0.0.2  dc1\nn3    fd00::3   dc1\n');
  const redis = await cli.run(['catalog', 'nodes', '-service', 'redis']);
  assert.equal(redis.out, 'Node  Address   DC\nn1    10.0.0.1  dc1\n');
});

test('catalog services, -tags, and -node', async () => {
  assert.equal((await cli.run(['catalog', 'services'])).out, 'redis\nweb\nweb-sidecar-proxy\n');
  assert.equal((await cli.run(['catalog', 'services', '-tags'])).out, 'redis\nweb                primary,v1,v2\nweb-sidecar-proxy\n');
  assert.equal((await cli.run(['catalog', 'services', '-node', 'n2', '-tags'])).out, 'web  v2\n');
  assert.equal((await cli.run(['catalog', 'services', '-node', 'ghost'])).out, '');
});

test('an unknown subcommand fails without exiting the process', async () => {
  const r = await cli.run(['catalog', 'bogus']);
  assert.notEqual(r.code, 0);
});
