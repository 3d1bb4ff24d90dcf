import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { defaultLanConfig, defaultLocalConfig, defaultWanConfig } from '../../src/gossip/config';
import { tempDir, writeFiles } from './helpers';

/** Loads and expects a ConfigError; returns its problems rendered as lines. */
async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'SHOAL_ERR_CONFIG_INVALID');
    return err.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected the configuration to be refused');
}

test('defaults: everything documented, with data_dir given', async () => {
  const c = await loadConfig({ flags: { dataDir: '/var/lib/shoal' }, hostname: 'web-1' });
  assert.equal(c.nodeName, 'web-1');
  assert.equal(c.datacenter, 'dc1');
  assert.equal(c.bindAddr, '0.0.0.0');
  assert.equal(c.clientAddr, '127.0.0.1');
  assert.deepEqual(c.ports, { http: 7500, grpc: 7501, serfLan: 7301, serfWan: 7302, dns: 7600 });
  assert.equal(c.dataDir, '/var/lib/shoal');
  assert.equal(c.server, false);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.logJson, true);
  assert.equal(c.encryptVerifyIncoming, true);
  assert.equal(c.encryptVerifyOutgoing, true);
  assert.equal(c.retryIntervalMs, 30_000);
  assert.equal(c.retryMax, 0);
  assert.equal(c.profile, 'lan');
  assert.deepEqual(c.gossipLan, defaultLanConfig('web-1', 'dc1'));
  assert.deepEqual(c.gossipWan, defaultWanConfig('web-1.dc1', 'shoal-wan'));
});

test('the result is deeply frozen', async () => {
  const c = await loadConfig({ flags: { dataDir: '/d' }, hostname: 'n' });
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.ports));
  assert.ok(Object.isFrozen(c.gossipLan));
  assert.ok(Object.isFrozen(c.retryJoin));
  assert.throws(() => {
    (c as unknown as { datacenter: string }).datacenter = 'x';
  }, TypeError);
});

test('HCL and JSON files parse, including blocks, lists and durations', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    'a.hcl': `
      node_name  = "node-a"
      datacenter = "eu-west"
      region     = "eu"
      zone       = "eu-west-1a"
      data_dir   = "/var/lib/shoal"
      server     = true
      retry_join = ["10.0.0.1", "10.0.0.2:7301"]
      ports {
        http     = 8500
        serf_lan = 8301
      }
      gossip_lan {
        probe_interval = "2s"
        probe_timeout  = "800ms"
        gossip_nodes   = 4
        dead_reap_time = "24h"
      }
    `,
    'b.json': JSON.stringify({
      log_level: 'DEBUG', ports: { grpc: 8502 }, gossip_wan: { probe_interval: 10_000, push_pull_interval: '1m30s' },
      encrypt_verify_outgoing: false, retry_interval: '5s', retry_max: 7,
    }),
  });
  const c = await loadConfig({ paths: [{ kind: 'file', path: f['a.hcl']! }, { kind: 'file', path: f['b.json']! }] });
  assert.equal(c.nodeName, 'node-a');
  assert.equal(c.datacenter, 'eu-west');
  assert.equal(c.region, 'eu');
  assert.equal(c.zone, 'eu-west-1a');
  assert.equal(c.server, true);
  assert.deepEqual(c.retryJoin, ['10.0.0.1', '10.0.0.2:7301']);
  assert.deepEqual(c.ports, { http: 8500, grpc: 8502, serfLan: 8301, serfWan: 7302, dns: 7600 });
  assert.equal(c.logLevel, 'debug');
  assert.equal(c.retryIntervalMs, 5000);
  assert.equal(c.retryMax, 7);
  assert.equal(c.encryptVerifyOutgoing, false);
  assert.equal(c.gossipLan.gossipVerifyOutgoing, false);
  assert.equal(c.gossipLan.label, 'eu-west');
  assert.equal(c.gossipLan.probeIntervalMs, 2000);
  assert.equal(c.gossipLan.probeTimeoutMs, 800);
  assert.equal(c.gossipLan.gossipNodes, 4);
  assert.equal(c.gossipLan.deadReapMs, 24 * 3600_000);
  assert.equal(c.gossipWan.nodeName, 'node-a.eu-west');
  assert.equal(c.gossipWan.probeIntervalMs, 10_000);
  assert.equal(c.gossipWan.pushPullIntervalMs, 90_000);
  assert.deepEqual(c.sources, [f['a.hcl'], f['b.json']]);
});

test('config dirs are read in lexical order, only *.hcl and *.json, later files winning', async () => {
  const dir = tempDir();
  writeFiles(dir, {
    'conf/20-b.json': JSON.stringify({ node_name: 'from-20', retry_join: ['10.0.0.2'] }),
    'conf/10-a.hcl': 'node_name = "from-10"\ndata_dir = "/d"\nretry_join = ["10.0.0.1"]\n',
    'conf/30-c.hcl': 'datacenter = "dc3"\n',
    'conf/99-ignored.txt': 'this is not config',
    'conf/nested/50.hcl': 'datacenter = "nested-is-ignored"\n',
  });
  const c = await loadConfig({ paths: [{ kind: 'dir', path: join(dir, 'conf') }] });
  assert.equal(c.nodeName, 'from-20');
  assert.equal(c.datacenter, 'dc3');
  // Lists are appended across sources, as Consul merges slices.
  assert.deepEqual(c.retryJoin, ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(c.sources.map((s) => s.slice(dir.length + 6)), ['10-a.hcl', '20-b.json', '30-c.hcl']);
});

test('files and directories apply in command-line order', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    'first.hcl': 'node_name = "first"\ndata_dir = "/d"\n',
    'd/x.hcl': 'node_name = "from-dir"\n',
    'last.json': '{"node_name": "last"}',
  });
  const order1 = await loadConfig({ paths: [{ kind: 'file', path: f['first.hcl']! }, { kind: 'dir', path: join(dir, 'd') }] });
  assert.equal(order1.nodeName, 'from-dir');
  const order2 = await loadConfig({
    paths: [{ kind: 'dir', path: join(dir, 'd') }, { kind: 'file', path: f['first.hcl']! }, { kind: 'file', path: f['last.json']! }],
  });
  assert.equal(order2.nodeName, 'last');
});

test('flags override files; list flags add to file lists', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    'a.hcl': 'node_name = "file"\ndata_dir = "/d"\nlog_level = "warn"\nports { http = 8500 }\nretry_join = ["10.0.0.1"]\nserver = false\n',
  });
  const c = await loadConfig({
    paths: [{ kind: 'file', path: f['a.hcl']! }],
    flags: { node: 'flag', logLevel: 'error', httpPort: '9500', retryJoin: ['10.0.0.9'], server: true, retryInterval: '2s', retryMax: '3' },
  });
  assert.equal(c.nodeName, 'flag');
  assert.equal(c.logLevel, 'error');
  assert.equal(c.ports.http, 9500);
  assert.equal(c.server, true);
  assert.equal(c.retryIntervalMs, 2000);
  assert.equal(c.retryMax, 3);
  assert.deepEqual(c.retryJoin, ['10.0.0.1', '10.0.0.9']);
});

test('every problem is reported at once, each with its file and field', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    'a.hcl': 'nod_name = "x"\nports {\n  http = "abc"\n}\nencrypt = "c2hvcnQ="\nretry_join = ["provider=aws tag_key=x"]\n',
    'b.json': '{"log_level": "verbose", "gossip_lan": {"probe_interval": "fast"}, "server": "yes"}',
  });
  const lines = await problemsOf(loadConfig({
    paths: [{ kind: 'file', path: f['a.hcl']! }, { kind: 'file', path: f['b.json']! }],
    flags: { serfLanPort: '70000' },
  }));
  const expect = [
    `${f['a.hcl']}: nod_name: unknown key (did you mean "node_name"?)`,
    `${f['a.hcl']}: ports.http: expected an integer from 0 to 65535, got "abc"`,
    `${f['a.hcl']}: encrypt: expected a base64 key of 16, 24 or 32 bytes`,
    `${f['a.hcl']}: retry_join: expected host or host:port (cloud auto-join`,
    `${f['b.json']}: log_level: expected one of trace, debug, info, warn, error, got "verbose"`,
    `${f['b.json']}: gossip_lan.probe_interval: expected a duration`,
    `${f['b.json']}: server: expected true or false, got "yes"`,
    'command line: -serf-lan-port: expected an integer from 0 to 65535, got "70000"',
    'configuration: data_dir: is required (except with -dev)',
  ];
  for (const want of expect) assert.ok(lines.some((l) => l.startsWith(want)), `missing: ${want}\nin:\n${lines.join('\n')}`);
  assert.equal(lines.length, expect.length, lines.join('\n'));
});

test('key material is never echoed in a problem', async () => {
  const secretish = 'dGhpcyBpcyBub3QgYSBrZXkgb2YgYSB2YWxpZCBsZW5ndGg=';
  const lines = await problemsOf(loadConfig({ flags: { encrypt: secretish, dataDir: '/d' } }));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^command line: -encrypt: expected a base64 key/);
  assert.ok(!lines[0]!.includes(secretish));
});

test('unknown keys are refused at every level', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, { 'a.json': JSON.stringify({ data_dir: '/d', bogus: 1, ports: { htp: 1 }, gossip_lan: { probe_intervall: '1s' } }) });
  const lines = await problemsOf(loadConfig({ paths: [{ kind: 'file', path: f['a.json']! }] }));
  assert.deepEqual(lines.sort(), [
    `${f['a.json']}: bogus: unknown key`,
    `${f['a.json']}: gossip_lan.probe_intervall: unknown key (did you mean "probe_interval"?)`,
    `${f['a.json']}: ports.htp: unknown key (did you mean "http"?)`,
  ].sort());
});

test('HCL and JSON syntax errors keep file:line,col, and the other files are still checked', async () => {
  const dir = tempDir();
  const f = writeFiles(dir, {
    '1.hcl': 'node_name = "ok"\nports {\n  http = \n}\n',
    '2.json': '{\n  "node_name": "x",\n  "datacenter": \n}',
    '3.hcl': 'datacenter = 5\n',
  });
  const lines = await problemsOf(loadConfig({ paths: [{ kind: 'dir', path: dir }], flags: { dataDir: '/d' } }));
  assert.ok(lines.some((l) => l.startsWith(`${f['1.hcl']}:3,`) && l.includes('HCL syntax error')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith(`${f['2.json']}:4,1: JSON syntax error`)), lines.join('\n'));
  assert.ok(lines.some((l) => l === `${f['3.hcl']}: datacenter: expected a string, got 5`), lines.join('\n'));
});

test('missing files and directories are problems too', async () => {
  const lines = await problemsOf(loadConfig({
    paths: [{ kind: 'file', path: '/nonexistent/a.hcl' }, { kind: 'dir', path: '/nonexistent/dir' }],
    flags: { dataDir: '/d' },
  }));
  assert.deepEqual(lines, [
    '/nonexistent/a.hcl: cannot read config file: no such file or directory',
    '/nonexistent/dir: cannot read config directory: no such file or directory',
  ]);
});

test('cross-field checks name the field and the expectation', async () => {
  const lines = await problemsOf(loadConfig({
    documents: [{ source: 'x.hcl', raw: { data_dir: '/d', server: true, ports: [{ serf_lan: 9000, serf_wan: 9000 }], gossip_lan: [{ probe_timeout: '2s' }], advertise_addr: '0.0.0.0', retry_interval: 0 } }],
  }));
  assert.deepEqual(lines.sort(), [
    'x.hcl: advertise_addr: expected a specific address peers can reach, not an unspecified one (0.0.0.0 or ::)',
    'x.hcl: gossip_lan.probe_timeout: expected less than gossip_lan.probe_interval (1s)',
    'x.hcl: ports.serf_wan: expected a port different from ports.serf_lan (9000)',
    'x.hcl: retry_interval: expected a duration greater than 0',
  ].sort());
});

test('an invalid host name as default node name asks for node_name', async () => {
  const lines = await problemsOf(loadConfig({ flags: { dataDir: '/d' }, hostname: 'bad host!' }));
  assert.deepEqual(lines, ['defaults: node_name: the host name "bad host!" is not a valid node name: set node_name or -node']);
});

test('client_addr follows a specific loopback bind_addr, so agents side by side do not collide', async () => {
  const side = await loadConfig({ flags: { dataDir: '/d', bind: '127.0.0.2' } });
  assert.equal(side.clientAddr, '127.0.0.2');
  const v6 = await loadConfig({ flags: { dataDir: '/d', bind: '::1' } });
  assert.equal(v6.clientAddr, '::1');
  const any = await loadConfig({ flags: { dataDir: '/d', bind: '0.0.0.0' } });
  assert.equal(any.clientAddr, '127.0.0.1');
  const lanIp = await loadConfig({ flags: { dataDir: '/d', bind: '10.1.2.3' } });
  assert.equal(lanIp.clientAddr, '127.0.0.1');
  const explicit = await loadConfig({ flags: { dataDir: '/d', bind: '127.0.0.2', client: '127.0.0.1' } });
  assert.equal(explicit.clientAddr, '127.0.0.1');
});

test('dev mode: server on loopback with the local profile, no data_dir needed; files still override', async () => {
  const c = await loadConfig({ dev: true, hostname: 'h' });
  assert.equal(c.dev, true);
  assert.equal(c.server, true);
  assert.equal(c.bindAddr, '127.0.0.1');
  assert.equal(c.dataDir, undefined);
  assert.equal(c.profile, 'local');
  assert.deepEqual(c.gossipLan, defaultLocalConfig('h', 'dc1'));
  const overridden = await loadConfig({ dev: true, hostname: 'h', documents: [{ source: 'x', raw: { server: false, profile: 'lan' } }] });
  assert.equal(overridden.server, false);
  assert.equal(overridden.gossipLan.probeTimeoutMs, 500);
});

test('profile picks the LAN pool base timings', async () => {
  const wan = await loadConfig({ flags: { dataDir: '/d', profile: 'wan' }, hostname: 'h' });
  assert.equal(wan.gossipLan.probeIntervalMs, 5000);
  assert.equal(wan.gossipLan.label, 'dc1');
  const bad = await problemsOf(loadConfig({ flags: { dataDir: '/d', profile: 'fast' } }));
  assert.deepEqual(bad, ['command line: -profile: expected one of lan, local, wan, got "fast"']);
});

test('join addresses accept host, host:port, IPv6 with and without port', async () => {
  const c = await loadConfig({ flags: { dataDir: '/d', retryJoin: ['a.example', 'b.example:7301', '10.0.0.1', '[::1]:7301', '::1'] } });
  assert.equal(c.retryJoin.length, 5);
  const lines = await problemsOf(loadConfig({ flags: { dataDir: '/d', join: ['host:99999'] } }));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^command line: -join: expected a port from 1 to 65535/);
});
