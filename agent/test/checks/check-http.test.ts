import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CheckTimeoutError, httpStatus, probeHttp, type HttpCheckSpec } from '../../src/checks';
import { waitFor } from '../agent/poll';
import { selfSigned } from './tls-helper';

let server: Server;
let base = '';
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const path = req.url!;
      if (path === '/ok') res.end('all good');
      else if (path === '/busy') res.writeHead(429).end('slow down');
      else if (path === '/fail') res.writeHead(503).end('db down');
      else if (path === '/big') res.end('x'.repeat(1_000_000));
      else if (path === '/redirect') res.writeHead(302, { location: '/ok' }).end();
      else if (path === '/hang') res.writeHead(200).write('partial'); // the body never ends
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function spec(path: string, extra: Partial<HttpCheckSpec> = {}): HttpCheckSpec {
  return { type: 'http', url: `${base}${path}`, method: 'GET', header: {}, body: '', tlsSkipVerify: false, tlsServerName: '', disableRedirects: false, ...extra };
}

const live = (): AbortSignal => new AbortController().signal;

test('http: 2xx passing with the status line and body as output', async () => {
  const r = await probeHttp(spec('/ok'), live());
  assert.equal(r.status, 'passing');
  assert.equal(r.output, `HTTP GET ${base}/ok: 200 OK Output: all good`);
});

test('http: 429 warning, 5xx and 404 critical', async () => {
  assert.equal((await probeHttp(spec('/busy'), live())).status, 'warning');
  const fail = await probeHttp(spec('/fail'), live());
  assert.equal(fail.status, 'critical');
  assert.match(fail.output, /503 Service Unavailable Output: db down$/);
  assert.equal((await probeHttp(spec('/missing'), live())).status, 'critical');
  assert.deepEqual([200, 204, 299, 429, 300, 400, 500].map(httpStatus), ['passing', 'passing', 'passing', 'warning', 'critical', 'critical', 'critical']);
});

test('http: output is capped at 4 KiB even for a 1 MB body', async () => {
  const r = await probeHttp(spec('/big'), live());
  assert.equal(r.status, 'passing');
  assert.ok(Buffer.byteLength(r.output) <= 4096, `output is ${Buffer.byteLength(r.output)} bytes`);
  assert.match(r.output, /^HTTP GET .*\/big: 200 OK Output: x+$/);
});

test('http: method, header lists and body are sent; defaults identify the checker', async () => {
  seen.length = 0;
  await probeHttp(spec('/ok', { method: 'POST', header: { 'X-Probe': ['a', 'b'], Host: ['svc.internal'] }, body: '{"ping":1}' }), live());
  const req = seen[0]!;
  assert.equal(req.method, 'POST');
  assert.equal(req.body, '{"ping":1}');
  assert.equal(req.headers['x-probe'], 'a, b');
  assert.equal(req.headers.host, 'svc.internal');
  assert.equal(req.headers['user-agent'], 'Shoal Health Check');
});

test('http: redirects are followed unless disable_redirects', async () => {
  const followed = await probeHttp(spec('/redirect'), live());
  assert.equal(followed.status, 'passing');
  assert.match(followed.output, /\/ok: 200 OK/);
  const kept = await probeHttp(spec('/redirect', { disableRedirects: true }), live());
  assert.equal(kept.status, 'critical');
  assert.match(kept.output, /302 Found/);
});

test('http: connection refused is critical with the error', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const r = await probeHttp({ ...spec('/'), url: `http://127.0.0.1:${port}/` }, live());
  assert.equal(r.status, 'critical');
  assert.match(r.output, /ECONNREFUSED/);
});

test('http: a response that never ends is cut at the timeout, critical', async () => {
  const ctl = new AbortController();
  seen.length = 0;
  const pending = probeHttp(spec('/hang'), ctl.signal);
  await waitFor('the request to arrive', () => seen.some((r) => r.url === '/hang'));
  ctl.abort(new CheckTimeoutError(10_000));
  const r = await pending;
  assert.equal(r.status, 'critical');
  assert.match(r.output, /timed out after 10s/);
});

test('https: self-signed certificates fail unless tls_skip_verify; tls_server_name sets SNI and the name verified', async () => {
  const { cert, key } = await selfSigned('svc.internal');
  let sni: string | false | null = false;
  const tlsServer = createHttpsServer({ cert, key }, (req, res) => {
    sni = (req.socket as TLSSocket).servername;
    res.end('secure');
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/`;
  try {
    const base = { ...spec('/'), url };
    const strict = await probeHttp(base, live());
    assert.equal(strict.status, 'critical');
    assert.match(strict.output, /self-signed|self signed/);
    const skipped = await probeHttp({ ...base, tlsSkipVerify: true }, live());
    assert.equal(skipped.status, 'passing');
    await probeHttp({ ...base, tlsSkipVerify: true, tlsServerName: 'svc.internal' }, live());
    assert.equal(sni, 'svc.internal');
  } finally {
    tlsServer.closeAllConnections();
    await new Promise((resolve) => tlsServer.close(resolve));
  }
});
