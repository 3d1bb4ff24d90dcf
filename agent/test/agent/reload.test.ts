import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKey, diffConfig } from '../../src/agent/reload';
import { agentTags, isServerTags } from '../../src/agent/tags';
import { loadConfig } from '../../src/config';

test('reload applies log_level and lists what needs a restart by config key', async () => {
  const a = await loadConfig({ flags: { dataDir: '/d', node: 'n' } });
  const b = await loadConfig({ flags: { dataDir: '/d', node: 'n', logLevel: 'debug', httpPort: '9000', retryInterval: '5s' } });
  assert.deepEqual(diffConfig(a, b), { changed: ['log_level'], restartRequired: ['ports', 'retry_interval'] });
  assert.deepEqual(diffConfig(a, a), { changed: [], restartRequired: [] });
  assert.equal(configKey('retryIntervalMs'), 'retry_interval');
  assert.equal(configKey('gossipLan'), 'gossip_lan');
});

test('tags announce role, cluster, locality, ports and version', async () => {
  const c = await loadConfig({ flags: { dataDir: '/d', node: 'n', server: true, region: 'eu', zone: 'eu-1a', datacenter: 'dc7' } });
  const tags = agentTags(c, { ...c.ports, http: 8123 });
  assert.equal(tags['role'], 'client,server');
  assert.equal(tags['dc'], 'dc7');
  assert.equal(tags['region'], 'eu');
  assert.equal(tags['zone'], 'eu-1a');
  assert.equal(tags['port_http'], '8123');
  assert.equal(tags['port_serf_lan'], '7301');
  assert.equal(tags['port_serf_wan'], '7302');
  assert.equal(tags['port_grpc'], '7501');
  assert.match(tags['version']!, /^\d+\.\d+\.\d+/);
  assert.ok(isServerTags(tags));
  const client = agentTags(await loadConfig({ flags: { dataDir: '/d', node: 'n' } }), c.ports);
  assert.equal(client['role'], 'client');
  assert.equal(client['region'], undefined);
  assert.ok(!isServerTags(client));
});

test('Agent.reload changes the log level at once and reports settings that need a restart', async () => {
  const { Agent, createLogger } = await import('../../src/agent');
  const { Writable } = await import('node:stream');
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
  const logger = createLogger({ level: 'info', json: true, destination: sink });
  const first = await loadConfig({ flags: { dataDir: '/d', node: 'n' } });
  const next = await loadConfig({ flags: { dataDir: '/d', node: 'n', logLevel: 'debug', datacenter: 'dc2' } });
  const agent = new Agent({ config: first, logger, processMetrics: false, reloadConfig: async () => next });
  assert.deepEqual(await agent.reload(), { applied: ['log_level'], restartRequired: ['datacenter', 'gossip_lan', 'gossip_wan'] });
  assert.equal(logger.level, 'debug');
  assert.equal(agent.currentConfig.logLevel, 'debug');
  assert.equal(agent.currentConfig.datacenter, 'dc1', 'settings that need a restart keep their running value');
  assert.ok(lines.some((l) => l.includes('take effect only after a restart')));
});
