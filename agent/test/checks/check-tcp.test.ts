import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { probeTcp } from '../../src/checks';

test('tcp: passing when the port accepts, critical when refused', async () => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const ok = await probeTcp({ type: 'tcp', host: '127.0.0.1', port }, new AbortController().signal);
    assert.deepEqual(ok, { status: 'passing', output: `TCP connect 127.0.0.1:${port}: Success` });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const refused = await probeTcp({ type: 'tcp', host: '127.0.0.1', port }, new AbortController().signal);
  assert.equal(refused.status, 'critical');
  assert.match(refused.output, /ECONNREFUSED/);
});

test('tcp: an already aborted run is critical at once', async () => {
  const ctl = new AbortController();
  ctl.abort(new Error('timed out after 1s'));
  const r = await probeTcp({ type: 'tcp', host: '127.0.0.1', port: 9 }, ctl.signal);
  assert.deepEqual(r, { status: 'critical', output: 'TCP connect 127.0.0.1:9: timed out after 1s' });
});
