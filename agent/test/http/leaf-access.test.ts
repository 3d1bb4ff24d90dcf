/**
 * Leaf certificates carry private keys: `GET /v1/agent/connect/ca/leaf/:service` answers loopback
 * callers, or others that send the agent's `acl_agent_token`. The address and token rules are
 * table-tested; then a real dev-mode agent whose `client_addr` is this host's non-loopback address
 * (skipped when it has none) refuses a caller without the token with 403.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { Agent } from '../../src/agent';
import { ConfigError, loadConfig } from '../../src/config';
import { noopLogger } from '../../src/core/logger';
import { assertLeafAccess, isLoopback, requestToken } from '../../src/http/leaf-access';

const TOKEN = 'agent-token-0123456789abcdef';

test('loopback addresses: 127/8, ::1 and IPv4-mapped 127.x; everything else is remote', () => {
  for (const a of ['127.0.0.1', '127.0.9.4', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopback(a), true, a);
  for (const a of [undefined, '', '10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '128.0.0.1', '127.0.0.1.evil']) assert.equal(isLoopback(a), false, String(a));
});

test('the token comes from X-Consul-Token, else Authorization: Bearer', () => {
  assert.equal(requestToken({ headers: { 'x-consul-token': 'a' } }), 'a');
  assert.equal(requestToken({ headers: { authorization: 'Bearer b' } }), 'b');
  assert.equal(requestToken({ headers: { 'x-consul-token': 'a', authorization: 'Bearer b' } }), 'a');
  assert.equal(requestToken({ headers: { authorization: 'Basic Zm9vOmJhcg==' } }), undefined);
  assert.equal(requestToken({ headers: {} }), undefined);
});

test('a remote caller needs the agent token; the refusal says why', () => {
  const remote = (headers: Record<string, string>) => ({ headers, remoteAddress: '10.1.2.3' });
  assert.doesNotThrow(() => assertLeafAccess({ headers: {}, remoteAddress: '127.0.0.1' }, undefined));
  assert.doesNotThrow(() => assertLeafAccess(remote({ 'x-consul-token': TOKEN }), TOKEN));
  assert.doesNotThrow(() => assertLeafAccess(remote({ authorization: `Bearer ${TOKEN}` }), TOKEN));
  const refused = (req: ReturnType<typeof remote>, token: string | undefined, why: RegExp): void => {
    assert.throws(() => assertLeafAccess(req, token), (err: unknown) => {
      const e = err as { status: number; code: string; message: string };
      return e.status === 403 && e.code === 'SHOAL_ERR_HTTP_FORBIDDEN' && /10\.1\.2\.3/.test(e.message) && why.test(e.message);
    });
  };
  refused(remote({}), TOKEN, /no token was sent/);
  refused(remote({ 'x-consul-token': `${TOKEN}x` }), TOKEN, /not the agent token/);
  refused(remote({ 'x-consul-token': TOKEN }), undefined, /no acl_agent_token/);
  assert.throws(() => assertLeafAccess({ headers: {} }, TOKEN), /an unknown address/);
});

test('acl_agent_token: a short token is refused naming the field, without echoing it', async () => {
  await assert.rejects(loadConfig({ dev: true, hostname: 'h', documents: [{ source: 'cfg.json', raw: { acl_agent_token: 'shorty' } }] }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /acl_agent_token: expected a token of at least 16 characters, got a value of 6 characters/);
    assert.doesNotMatch(err.message, /shorty/);
    return true;
  });
});

const external = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;

test('a real agent on a non-loopback client_addr: 403 without the token (leaves and writes), the leaf with it', { skip: external === undefined ? 'no non-loopback IPv4 address on this host' : false }, async () => {
  const config = await loadConfig({
    dev: true, hostname: 'leafacl',
    documents: [{
      source: 'test',
      raw: { node_name: 'leafacl', bind_addr: '127.0.0.1', client_addr: external, acl_agent_token: TOKEN, ports: { http: 0, serf_lan: 0, serf_wan: 0, grpc: 0, dns: 0 } },
    }],
  });
  const agent = new Agent({ config, logger: noopLogger as never, processMetrics: false });
  await agent.start();
  try {
    const { host, port } = agent.httpAddress();
    const base = `http://${host}:${port}`;
    const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
      fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    // Writes from beyond loopback need the token too.
    assert.equal((await call('PUT', '/v1/agent/service/register', {}, { Name: 'web', Port: 8080 })).status, 403);
    assert.equal((await call('PUT', '/v1/agent/service/register', { 'X-Consul-Token': TOKEN }, { Name: 'web', Port: 8080 })).status, 200);
    const denied = await call('GET', '/v1/agent/connect/ca/leaf/web');
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as { error: string; code: string };
    assert.equal(body.code, 'SHOAL_ERR_HTTP_FORBIDDEN');
    assert.match(body.error, new RegExp(`refused to ${external!.replace(/\./g, '\\.')}: no token was sent`));
    assert.equal((await call('GET', '/v1/agent/connect/ca/leaf/web', { 'X-Consul-Token': 'wrong-token-0123456789' })).status, 403);
    const ok = await call('GET', '/v1/agent/connect/ca/leaf/web', { 'X-Consul-Token': TOKEN });
    assert.equal(ok.status, 200);
    assert.match(((await ok.json()) as { PrivateKeyPEM: string }).PrivateKeyPEM, /PRIVATE KEY/);
    assert.equal((await call('GET', '/v1/agent/connect/ca/roots')).status, 200, 'roots (public) stay open');
  } finally {
    await agent.shutdown({ leave: false });
  }
});

test('with an agent token, writes from a remote caller need it; reads, loopback callers and agents without a token are unaffected', async () => {
  const { assertWriteAccess } = await import('../../src/http/leaf-access');
  const req = (method: string, remoteAddress: string, headers: Record<string, string> = {}) => ({ method: method as 'PUT', path: '/v1/config', headers, remoteAddress });
  assert.doesNotThrow(() => assertWriteAccess(req('PUT', '10.1.2.3'), undefined), 'no token configured: open, as Consul without ACLs');
  assert.doesNotThrow(() => assertWriteAccess(req('GET', '10.1.2.3'), TOKEN));
  assert.doesNotThrow(() => assertWriteAccess(req('PUT', '127.0.0.1'), TOKEN));
  assert.doesNotThrow(() => assertWriteAccess(req('PUT', '10.1.2.3', { 'x-consul-token': TOKEN }), TOKEN));
  for (const [method, headers, why] of [['PUT', {}, /no token was sent/], ['DELETE', { authorization: 'Bearer wrong-token-000000000' }, /not the agent token/]] as const) {
    assert.throws(() => assertWriteAccess(req(method, '10.1.2.3', headers), TOKEN), (err: unknown) => {
      const e = err as { status: number; message: string };
      return e.status === 403 && why.test(e.message) && /10\.1\.2\.3/.test(e.message) && !e.message.includes(TOKEN);
    });
  }
});
