import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { systemClock } from '../../src/core/clock';
import { apiRoutes, HttpApiServer } from '../../src/http';
import { waitFor } from '../agent/poll';
import { FakeAgent, member, report } from './fake-agent';

const api = new FakeAgent();
const server = new HttpApiServer({ host: '127.0.0.1', port: 0, routes: apiRoutes(api), clock: systemClock });
let base = '';

before(async () => {
  await server.start();
  base = `http://127.0.0.1:${server.address().port}`;
});
after(() => server.close());

async function call(method: string, path: string, body?: string): Promise<{ status: number; type: string | null; json: unknown; text: string; headers: Headers }> {
  const res = await fetch(`${base}${path}`, { method, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), json, text, headers: res.headers };
}

test('GET /v1/agent/members returns Consul\'s shape, serf status codes and Shoal\'s state', async () => {
  const r = await call('GET', '/v1/agent/members');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  const members = r.json as Record<string, unknown>[];
  assert.deepEqual(members[0], {
    Name: 'a', Addr: '127.0.0.1', Port: 7301, Tags: { role: 'client,server', dc: 'dc1' }, Status: 1,
    ProtocolMin: 1, ProtocolMax: 1, ProtocolCur: 1, DelegateMin: 1, DelegateMax: 1, DelegateCur: 1, State: 'alive',
  });
  // suspect is still alive to Consul clients; dead is failed (4); left is 3.
  assert.deepEqual(members.map((m) => [m['Name'], m['Status'], m['State']]), [['a', 1, 'alive'], ['b', 1, 'suspect'], ['c', 4, 'dead'], ['d', 3, 'left']]);
});

test('?wan=1 lists the WAN pool, and is refused with a clear code on a client agent', async () => {
  api.wan = undefined;
  const refused = await call('GET', '/v1/agent/members?wan=1');
  assert.equal(refused.status, 400);
  assert.equal((refused.json as { code: string }).code, 'SHOAL_ERR_NOT_SERVER');
  api.wan = [member('a.dc1', 'alive', '[::1]:7302')];
  const ok = await call('GET', '/v1/agent/members?wan=1');
  assert.deepEqual((ok.json as { Name: string; Addr: string; Port: number }[]).map((m) => [m.Name, m.Addr, m.Port]), [['a.dc1', '::1', 7302]]);
  api.wan = undefined;
});

test('idle keep-alive connections are kept 120 s, longer than common clients keep theirs', async () => {
  // Node's fetch (undici) hides the Keep-Alive header; read it with node:http.
  const header = await new Promise<string | undefined>((resolve, reject) => {
    httpRequest(`${base}/v1/agent/members`, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
    }).on('error', reject).end();
  });
  assert.equal(header, 'timeout=120');
});

test('GET /v1/agent/self has Config, Member and Stats', async () => {
  const r = await call('GET', '/v1/agent/self?pretty');
  const self = r.json as { Config: { NodeName: string; Datacenter: string; Server: boolean }; Member: { Name: string }; Stats: unknown };
  assert.equal(self.Config.NodeName, 'a');
  assert.equal(self.Config.Datacenter, 'dc1');
  assert.equal(self.Config.Server, true);
  assert.equal(self.Member.Name, 'a');
  assert.deepEqual(self.Stats, { serf_lan: { members: '4' } });
  assert.ok(r.text.includes('\n    "Config"'), 'pretty-printed with ?pretty');
});

test('PUT /v1/agent/join/:address decodes the address and reports failures', async () => {
  api.calls = [];
  const ok = await call('PUT', `/v1/agent/join/${encodeURIComponent('[::1]:7301')}?wan=1`);
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '');
  assert.deepEqual(api.calls, ['join [::1]:7301 wan=true']);
  api.joinResult = { joined: 0, errors: [{ addr: '10.0.0.9:7301', error: 'connection refused' }] };
  const bad = await call('PUT', '/v1/agent/join/10.0.0.9');
  assert.equal(bad.status, 500);
  assert.deepEqual(bad.json, { error: 'could not join LAN pool through 10.0.0.9: 10.0.0.9:7301: connection refused', code: 'SHOAL_ERR_JOIN' });
  api.joinResult = { joined: 1, errors: [] };
});

test('PUT /v1/agent/leave replies, then shuts the agent down', async () => {
  api.calls = [];
  const r = await call('PUT', '/v1/agent/leave');
  assert.equal(r.status, 200);
  await waitFor('shutdown after the leave reply', () => api.calls.includes('shutdown'));
  assert.deepEqual(api.calls, ['leave', 'shutdown']);
});

test('PUT /v1/agent/reload reports what was applied', async () => {
  const r = await call('PUT', '/v1/agent/reload');
  assert.deepEqual(r.json, { Applied: ['log_level'], RestartRequired: [] });
});

test('keyring: GET lists in Consul\'s shape; POST/PUT/DELETE install/use/remove the body\'s Key', async () => {
  const list = await call('GET', '/v1/operator/keyring');
  assert.deepEqual(list.json, [{
    WAN: false, Datacenter: 'dc1', Segment: '', Keys: { K1: 3, K2: 2 }, PrimaryKeys: { K1: 3 },
    NumNodes: 3, NumResponses: 3, NumErrors: 0, Messages: {},
  }]);
  api.calls = [];
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await call(method, '/v1/operator/keyring', JSON.stringify({ Key: ' K2 ' }));
    assert.equal(r.status, 200, r.text);
  }
  assert.deepEqual(api.calls, ['keyring install K2', 'keyring use K2', 'keyring remove K2']);
});

test('keyring operations that some members did not apply fail with the members named', async () => {
  api.opReports = [report({ numNodes: 3, numResponses: 2, numErrors: 1, messages: { c: 'no answer within 1600 ms' } })];
  const r = await call('POST', '/v1/operator/keyring', '{"Key":"K3"}');
  assert.equal(r.status, 500);
  const body = r.json as { error: string; code: string };
  assert.equal(body.code, 'SHOAL_ERR_KEYRING_PARTIAL');
  assert.equal(body.error, 'keyring install did not complete everywhere: dc1 (LAN): 1/3 members failed (c: no answer within 1600 ms)');
  api.opReports = [report()];
});

test('bad bodies: malformed JSON says where, a missing Key says which field, oversized bodies are 413', async () => {
  const malformed = await call('POST', '/v1/operator/keyring', '{\n  "Key": \n}');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.type, 'application/json');
  assert.deepEqual(malformed.json, { error: "request body is not valid JSON: line 3, column 1: unexpected '}', expected a value", code: 'SHOAL_ERR_HTTP_BAD_JSON' });
  const missing = await call('POST', '/v1/operator/keyring', '{"key": "lowercase"}');
  assert.deepEqual(missing.json, { error: 'Key: expected a base64 key string', code: 'SHOAL_ERR_HTTP_BAD_REQUEST' });
  const notObject = await call('POST', '/v1/operator/keyring', '[1]');
  assert.equal(notObject.status, 400);
  const big = await call('POST', '/v1/operator/keyring', JSON.stringify({ Key: 'x'.repeat(1024 * 1024) }));
  assert.equal(big.status, 413);
  assert.equal((big.json as { code: string }).code, 'SHOAL_ERR_HTTP_BODY_TOO_LARGE');
});

test('a chunked body over the cap is refused too (no Content-Length to check up front)', async () => {
  const { port } = server.address();
  const status = await new Promise<number>((resolve, reject) => {
    let got = 0;
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/operator/keyring', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
      got = res.statusCode ?? 0;
      res.resume();
      resolve(got);
    });
    // The server may close while we are still writing: that is fine once the 413 arrived.
    req.on('error', (err) => (got !== 0 ? resolve(got) : reject(err)));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    for (let i = 0; i < 20; i++) req.write(chunk);
    req.end();
  });
  assert.equal(status, 413);
});

test('unknown paths are 404 and wrong methods 405 with Allow, both as JSON', async () => {
  const nf = await call('GET', '/v1/nope');
  assert.equal(nf.status, 404);
  assert.equal(nf.type, 'application/json');
  assert.equal((nf.json as { code: string }).code, 'SHOAL_ERR_HTTP_NOT_FOUND');
  const na = await call('POST', '/v1/agent/members');
  assert.equal(na.status, 405);
  assert.equal(na.headers.get('allow'), 'GET');
});

test('GET /metrics serves Prometheus text; the Consul alias needs format=prometheus', async () => {
  const m = await call('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type!, /^text\/plain; version=0\.0\.4/);
  const alias = await call('GET', '/v1/agent/metrics?format=prometheus');
  assert.equal(alias.status, 200);
  assert.equal((await call('GET', '/v1/agent/metrics')).status, 400);
});
