/**
 * Configuration mistakes with a real agent process: a config directory of two files (HCL and JSON)
 * with several mistakes makes `shoal agent` exit non-zero before it binds anything, and stderr lists
 * every problem, each with its file and field, in one run. The same directory with the mistakes
 * corrected starts, so the failure is the mistakes' doing.
 *
 * Addresses (this file owns 127.0.1.80-89): 127.0.1.80.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '../../agent/src/gossip/keyring';
import { Cluster, http, runShoal } from './harness';

const cluster = new Cluster('config');
after(() => cluster.cleanup());

const IP = '127.0.1.80';
const BAD_KEY = 'this-is-not-a-gossip-key!';

function writeConfigDir(dir: string, mistakes: boolean): { hcl: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const hcl = join(dir, '10-agent.hcl');
  const json = join(dir, '20-network.json');
  writeFileSync(hcl, [
    'node_name = "cfg0"',
    `bind_addr = "${IP}"`,
    `data_dir  = "${join(cluster.root, 'cfg0-data')}"`,
    mistakes ? 'retry_interval = "5 parsecs"' : 'retry_interval = "5s"',
    mistakes ? 'not_a_real_setting = true' : '',
    'gossip_lan {',
    mistakes ? '  probe_interval = "fast"' : '  probe_interval = "1s"',
    '}',
    '',
  ].join('\n'));
  writeFileSync(json, `${JSON.stringify({
    ports: { http: mistakes ? 70000 : 7500 },
    encrypt: mistakes ? BAD_KEY : generateKey(),
  }, null, 2)}\n`);
  return { hcl, json };
}

test('an agent whose config dir holds several mistakes exits non-zero and lists every one with file and field', { timeout: 30_000 }, async () => {
  const dir = join(cluster.root, 'bad-config');
  const { hcl, json } = writeConfigDir(dir, true);
  const r = await runShoal(['agent', '-config-dir', dir], 20_000);
  assert.notEqual(r.code, 0, 'exit code');
  assert.equal(r.code, 1, 'exit code 1 (not a crash or a signal)');

  const expected: { file: string; field: string; message: RegExp }[] = [
    { file: hcl, field: 'retry_interval', message: /expected a duration.*got "5 parsecs"/ },
    { file: hcl, field: 'not_a_real_setting', message: /unknown key/ },
    { file: hcl, field: 'gossip_lan.probe_interval', message: /expected a duration.*got "fast"/ },
    { file: json, field: 'ports.http', message: /expected an integer from 0 to 65535.*70000/ },
    { file: json, field: 'encrypt', message: /expected a base64 key of 16, 24 or 32 bytes/ },
  ];
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  assert.match(lines[0] ?? '', new RegExp(`invalid configuration \\(${expected.length} problems\\)`), `stderr:\n${r.stderr}`);
  for (const e of expected) {
    const line = lines.find((l) => l.startsWith(`${e.file}: ${e.field}: `));
    assert.ok(line !== undefined, `a line "${e.file}: ${e.field}: ..." in stderr:\n${r.stderr}`);
    assert.match(line, e.message);
  }
  assert.equal(lines.length, 1 + expected.length, `nothing but the problems is reported:\n${r.stderr}`);
  assert.ok(!r.stderr.includes(BAD_KEY) && !r.stdout.includes(BAD_KEY), 'the key value is never echoed');
  assert.ok(!r.stdout.includes('agent started'), 'the agent never started');
  await assert.rejects(http(`http://${IP}:7500`, 'GET', '/v1/agent/self', undefined, 1_000), 'nothing serves the HTTP API');
});

test('the same config dir with the mistakes corrected starts an agent', { timeout: 30_000 }, () => cluster.diagnose(async () => {
  const dir = join(cluster.root, 'good-config');
  writeConfigDir(dir, false);
  const agent = cluster.add({ name: 'cfg0', ip: IP, args: ['-config-dir', dir] });
  await agent.start();
  const self = await agent.self();
  assert.equal(self.Config['NodeName'], 'cfg0');
  assert.equal(self.Stats['serf_lan']?.['encrypted'], 'true', 'the encrypt key from the JSON file is in force');
  await agent.kill9();
}));
