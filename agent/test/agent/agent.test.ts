/**
 * Integration: three real agents in one process, each on its own loopback address with real UDP and
 * TCP sockets (ports chosen by the OS), joined over the HTTP API and by retry_join, then a full
 * keyring rotation through the HTTP API, checked in every agent's keyring file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Agent, createLogger } from '../../src/agent';
import { loadConfig } from '../../src/config';
import { generateKey } from '../../src/gossip/keyring';
import type { MemberJson } from '../../src/http';
import { waitFor } from './poll';

const K1 = generateKey();
const K2 = generateKey();
const logLines: string[] = [];
const agents: Agent[] = [];

after(async () => {
  await Promise.all(agents.map((a) => a.shutdown({ leave: false })));
});

function logger(): ReturnType<typeof createLogger> {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return createLogger({ level: 'info', json: true, destination: sink });
}

async function startAgent(name: string, ip: string, dataDir: string, extra: Record<string, unknown> = {}): Promise<Agent> {
  const config = await loadConfig({
    documents: [{
      source: `${name}.hcl`,
      raw: { node_name: name, bind_addr: ip, data_dir: dataDir, encrypt: K1, profile: 'local', ports: { http: 0, serf_lan: 0, serf_wan: 0 }, ...extra },
    }],
  });
  const agent = new Agent({ config, logger: logger(), processMetrics: false });
  agents.push(agent);
  await agent.start();
  return agent;
}

function url(agent: Agent, path: string): string {
  const { host, port } = agent.httpAddress();
  return `http://${host}:${port}${path}`;
}

async function api(agent: Agent, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url(agent, path), { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text), text };
}

async function members(agent: Agent): Promise<Record<string, string>> {
  const r = await api(agent, 'GET', '/v1/agent/members');
  return Object.fromEntries((r.json as MemberJson[]).map((m) => [m.Name, m.State]));
}

function keyringFileWan(dir: string): { primary: string; keys: string[] } {
  return JSON.parse(readFileSync(join(dir, 'keyring-wan.json'), 'utf8')) as { primary: string; keys: string[] };
}

function keyringFile(dir: string): { primary: string; keys: string[] } {
  return JSON.parse(readFileSync(join(dir, 'keyring.json'), 'utf8')) as { primary: string; keys: string[] };
}

test('three agents join, rotate the gossip key cluster-wide, and leave cleanly', async () => {
  const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'shoal-agent-it-')));
  const a = await startAgent('a', '127.0.0.21', dirs[0]!, { server: true });
  const aGossip = a.lanPool!.localMember().addr;
  // b joins through the HTTP API; c through retry_join in its configuration.
  const b = await startAgent('b', '127.0.0.22', dirs[1]!);
  const c = await startAgent('c', '127.0.0.23', dirs[2]!, { retry_join: [aGossip] });
  // The HTTP API follows the loopback bind address (no collision on 127.0.0.1:7500).
  assert.equal(b.httpAddress().host, '127.0.0.22');
  const joined = await api(b, 'PUT', `/v1/agent/join/${encodeURIComponent(aGossip)}`);
  assert.equal(joined.status, 200, joined.text);

  for (const agent of [a, b, c]) {
    await waitFor(`all three alive as seen by ${agent.currentConfig.nodeName}`, async () => {
      const m = await members(agent);
      return m['a'] === 'alive' && m['b'] === 'alive' && m['c'] === 'alive';
    });
  }
  const wan = await api(a, 'GET', '/v1/agent/members?wan=1');
  assert.deepEqual((wan.json as MemberJson[]).map((m) => m.Name), ['a.dc1']);
  const tags = (await api(a, 'GET', '/v1/agent/members')).json as MemberJson[];
  const aTags = tags.find((m) => m.Name === 'a')!.Tags;
  assert.equal(aTags['role'], 'client,server');
  assert.equal(aTags['port_http'], String(a.httpAddress().port), 'the bound HTTP port is announced');

  // Every agent seeded its keyring file from encrypt: mode 0600 in a 0700 directory.
  for (const dir of dirs) {
    assert.deepEqual(keyringFile(dir), { primary: K1, keys: [K1] });
    assert.equal(statSync(join(dir, 'keyring.json')).mode & 0o777, 0o600);
  }

  const before = await api(c, 'GET', '/v1/operator/keyring');
  const lan = (before.json as { WAN: boolean; Keys: Record<string, number>; NumNodes: number }[]).find((r) => !r.WAN)!;
  assert.deepEqual(lan.Keys, { [K1]: 3 });
  assert.equal(lan.NumNodes, 3);

  // Keyring operations act on the pools of the agent that receives them: from the client b, the
  // LAN pool only; from the server a, its WAN pool first and then the LAN pool.
  const installFromClient = await api(b, 'POST', '/v1/operator/keyring', { Key: K2 });
  assert.equal(installFromClient.status, 200, installFromClient.text);
  for (const dir of dirs) assert.deepEqual(keyringFile(dir), { primary: K1, keys: [K1, K2] });
  assert.deepEqual(keyringFileWan(dirs[0]!), { primary: K1, keys: [K1] });
  // The rotation proper, driven from the server: install (WAN now), use, remove.
  const install = await api(a, 'POST', '/v1/operator/keyring', { Key: K2 });
  assert.equal(install.status, 200, install.text);
  assert.deepEqual(keyringFileWan(dirs[0]!), { primary: K1, keys: [K1, K2] });
  const use = await api(a, 'PUT', '/v1/operator/keyring', { Key: K2 });
  assert.equal(use.status, 200, use.text);
  for (const dir of dirs) assert.equal(keyringFile(dir).primary, K2);
  const removePrimary = await api(c, 'DELETE', '/v1/operator/keyring', { Key: K2 });
  assert.equal(removePrimary.status, 400);
  assert.match((removePrimary.json as { error: string }).error, /cannot remove the primary key/);
  const remove = await api(a, 'DELETE', '/v1/operator/keyring', { Key: K1 });
  assert.equal(remove.status, 200, remove.text);
  for (const dir of dirs) assert.deepEqual(keyringFile(dir), { primary: K2, keys: [K2] });
  assert.deepEqual(keyringFileWan(dirs[0]!), { primary: K2, keys: [K2] });

  const listed = (await api(a, 'GET', '/v1/operator/keyring')).json as { WAN: boolean; Keys: Record<string, number>; PrimaryKeys: Record<string, number>; NumNodes: number; NumErrors: number }[];
  const lanAfter = listed.find((r) => !r.WAN)!;
  assert.deepEqual([lanAfter.Keys, lanAfter.PrimaryKeys, lanAfter.NumNodes, lanAfter.NumErrors], [{ [K2]: 3 }, { [K2]: 3 }, 3, 0]);
  assert.deepEqual(listed.find((r) => r.WAN)!.Keys, { [K2]: 1 }, 'the WAN pool of the server rotated too');

  // c restarts with the old encrypt key in its config: its keyring file (K2) wins, so it rejoins.
  await c.shutdown({ leave: true });
  await waitFor('a to see c left', async () => (await members(a))['c'] === 'left');
  const c2 = await startAgent('c', '127.0.0.23', dirs[2]!, { start_join: [a.lanPool!.localMember().addr] });
  assert.equal(c2.lanPool!.keyring!.list()[0], K2);
  assert.ok(logLines.some((l) => l.includes('exists and wins')), 'the precedence warning was logged');
  await waitFor('c alive again', async () => (await members(a))['c'] === 'alive' && (await members(c2))['b'] === 'alive');

  // b leaves through the API: it replies, then stops; the others see it as left (Consul status 3).
  const leave = await api(b, 'PUT', '/v1/agent/leave');
  assert.equal(leave.status, 200);
  assert.deepEqual(await b.exited, {});
  await waitFor('a to see b left', async () => {
    const r = (await api(a, 'GET', '/v1/agent/members')).json as MemberJson[];
    const m = r.find((x) => x.Name === 'b');
    return m?.State === 'left' && m.Status === 3;
  });

  // Metrics are served and carry the pools' member gauges.
  const metrics = await fetch(url(a, '/metrics')).then((r) => r.text());
  assert.match(metrics, /shoal_gossip_members\{pool="lan",state="alive"\} 2/);

  await Promise.all([a.shutdown(), c2.shutdown()]);
  // No log line ever carried key material.
  for (const line of logLines) for (const k of [K1, K2]) assert.ok(!line.includes(k), `key in log line: ${line}`);
});
