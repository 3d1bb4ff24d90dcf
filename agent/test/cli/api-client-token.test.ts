import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { ApiClient, resolveHttpToken } from '../../src/cli/api-client';

test('the CLI token comes from SHOAL_HTTP_TOKEN, else CONSUL_HTTP_TOKEN, and is sent as X-Consul-Token', async () => {
  assert.equal(resolveHttpToken({}), undefined);
  assert.equal(resolveHttpToken({ SHOAL_HTTP_TOKEN: '  ' }), undefined);
  assert.equal(resolveHttpToken({ CONSUL_HTTP_TOKEN: 'c' }), 'c');
  assert.equal(resolveHttpToken({ SHOAL_HTTP_TOKEN: 's', CONSUL_HTTP_TOKEN: 'c' }), 's');
  const seen: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    seen.push(req.headers['x-consul-token'] as string | undefined);
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await new ApiClient(base, 5_000, 'tok-1').request('PUT', '/v1/config', { Kind: 'x' });
    await new ApiClient(base, 5_000).request('GET', '/v1/agent/self');
    assert.deepEqual(seen, ['tok-1', undefined]);
  } finally {
    server.close();
  }
});
