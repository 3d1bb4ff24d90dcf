import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { waitFor } from '../agent/poll';
import { FakeConfigEntries } from './fake-catalog';
import { startApi, type Harness } from './harness';

const store = new FakeConfigEntries();
let h: Harness;

before(async () => {
  h = await startApi({ configEntries: store, clock: new VirtualClock() });
});
after(() => h.server.close());

const put = (body: unknown, query = ''): ReturnType<Harness['call']> => h.call('PUT', `/v1/config${query}`, JSON.stringify(body));

test('PUT /v1/config writes an entry and answers true; GET returns it with its indexes', async () => {
  const w = await put({ Kind: 'service-defaults', Name: 'web', Protocol: 'http' });
  assert.equal(w.status, 200);
  assert.equal(w.text, 'true');
  assert.equal(w.headers.get('content-type'), 'application/json');
  const r = await h.call('GET', '/v1/config/service-defaults/web');
  assert.equal(r.status, 200);
  const index = store.index();
  assert.deepEqual(r.json, { Kind: 'service-defaults', Name: 'web', Protocol: 'http', CreateIndex: index, ModifyIndex: index });
  assert.equal(r.headers.get('x-consul-index'), String(index));
  assert.equal(r.headers.get('x-consul-knownleader'), 'true');
});

test('?cas writes only at the expected ModifyIndex and answers false otherwise', async () => {
  const current = store.get('service-defaults', 'web')!.modifyIndex;
  assert.equal((await put({ Kind: 'service-defaults', Name: 'web', Protocol: 'grpc' }, `?cas=${current - 1}`)).text, 'false');
  assert.equal((await put({ Kind: 'service-defaults', Name: 'web', Protocol: 'grpc' }, `?cas=${current}`)).text, 'true');
  assert.equal((await put({ Kind: 'service-defaults', Name: 'api' }, '?cas=0')).text, 'true');
  assert.equal((await put({ Kind: 'service-defaults', Name: 'api' }, '?cas=0')).text, 'false', 'cas=0 only creates');
  assert.equal((await put({ Kind: 'service-defaults', Name: 'api' }, '?cas=-1')).status, 400);
});

test('an invalid entry is a 400 that lists every problem', async () => {
  const r = await put({ Kind: 'nonsense' });
  assert.equal(r.status, 400);
  const body = r.json as { error: string; code: string; problems: { field: string }[] };
  assert.equal(body.code, 'SHOAL_ERR_VALIDATION');
  assert.deepEqual(body.problems.map((p) => p.field), ['Kind', 'Name']);
  assert.match(body.error, /Kind: unknown kind\n.*Name: required/);
  assert.equal((await h.call('PUT', '/v1/config', '[1]')).status, 400);
  assert.equal((await h.call('PUT', '/v1/config', '{"Kind":')).status, 400);
});

test('GET /v1/config/:kind lists entries of a kind; an unknown kind is a 400', async () => {
  await put({ Kind: 'proxy-defaults', Name: 'global', Config: { protocol: 'http' } });
  const list = await h.call('GET', '/v1/config/service-defaults');
  assert.deepEqual((list.json as { Name: string }[]).map((e) => e.Name), ['api', 'web']);
  assert.equal(list.headers.get('x-consul-index'), String(store.index()));
  const bad = await h.call('GET', '/v1/config/service-default');
  assert.equal(bad.status, 400);
  assert.match((bad.json as { error: string }).error, /invalid config entry kind "service-default"/);
});

test('a missing entry is a 404 that still carries X-Consul-Index', async () => {
  const r = await h.call('GET', '/v1/config/service-resolver/ghost');
  assert.equal(r.status, 404);
  assert.equal(r.headers.get('x-consul-index'), String(store.index()));
  assert.equal((r.json as { code: string }).code, 'SHOAL_ERR_CONFIG_ENTRY_NOT_FOUND');
});

test('a blocking read of a missing entry wakes when it is written', async () => {
  const start = store.index();
  const pending = h.call('GET', `/v1/config/service-resolver/later?index=${start}&wait=5m`);
  await waitFor('the request to block', () => store.subscribers === 1);
  await put({ Kind: 'service-resolver', Name: 'later', ConnectTimeout: '5s' });
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal((r.json as { ConnectTimeout: string }).ConnectTimeout, '5s');
  assert.equal(r.headers.get('x-consul-index'), String(start + 1));
});

test('DELETE answers {} without cas and a boolean with it', async () => {
  const plain = await h.call('DELETE', '/v1/config/service-defaults/api');
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.json, {});
  assert.equal(store.get('service-defaults', 'api'), undefined);
  const idx = store.get('service-defaults', 'web')!.modifyIndex;
  assert.equal((await h.call('DELETE', `/v1/config/service-defaults/web?cas=${idx + 5}`)).text, 'false');
  assert.ok(store.get('service-defaults', 'web'));
  assert.equal((await h.call('DELETE', `/v1/config/service-defaults/web?cas=${idx}`)).text, 'true');
  assert.equal(store.get('service-defaults', 'web'), undefined);
  assert.equal((await h.call('DELETE', '/v1/config/whatever/web')).status, 400);
});
