/**
 * Two proxy engines in this process on 127.0.0.1 with real TLS: `web`'s (an upstream listener) and
 * `api`'s (an inbound listener in front of a TCP application). Certificates come from the CA library.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createCsr, createIntermediate, createRoot, exportKeyPem, generateKeyPair, LeafSigner, type CaMaterial, type Identity } from '../../../ca/src';
import { systemClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { systemRandom } from '../../src/core/random';
import { ProxyEngine } from '../../src/proxy/engine';
import { waitFor } from '../agent/poll';
import type { EndpointSpec, ProxySnapshot, ServiceCert } from '../../src/proxy/types';

const TD = 'engine.test';
const HOST = '127.0.0.1';
let root: CaMaterial;
let signer: LeafSigner;
const certs: Record<string, ServiceCert> = {};
let app: Server;
let appPort = 0;
const appSockets = new Set<Socket>();
let webEngine: ProxyEngine;
let apiEngine: ProxyEngine;
let apiPort = 0;
let upstreamPort = 0;
const sid = (s: string, td = TD): string => `spiffe://${td}/ns/default/dc/dc1/svc/${s}`;

async function leaf(service: string, td = TD, s = signer): Promise<ServiceCert> {
  const id: Identity = { kind: 'service', trustDomain: td, namespace: 'default', datacenter: 'dc1', service };
  const keys = await generateKeyPair();
  const r = await s.sign(await createCsr({ identity: id, keys }), id);
  return { certPem: [r.certPem, ...r.chainPem].join('\n'), keyPem: await exportKeyPem(keys.privateKey), spiffeId: sid(service, td) };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, HOST, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function endpoint(port: number, spiffeId = sid('api')): EndpointSpec {
  return { id: `n/${port}`, node: 'n', host: HOST, port, spiffeId, sni: `api.default.dc1.internal.${TD}` };
}

function apiSnapshot(over: Partial<ProxySnapshot> = {}): ProxySnapshot {
  return {
    trustDomain: TD, datacenter: 'dc1', nodeName: 'api-node', defaultIntentionPolicy: 'allow', roots: [root.certPem], certs: { api: certs['api']! },
    intentions: [], accessLogs: false, upstreams: [],
    inbound: [{ proxyId: 'api-sidecar-proxy', service: 'api', spiffeId: sid('api'), host: HOST, port: apiPort, localAddress: HOST, localPort: appPort, localConnectTimeoutMs: 2000, idleTimeoutMs: 60_000 }],
    ...over,
  };
}

function webSnapshot(endpoints: EndpointSpec[], over: Partial<ProxySnapshot> = {}): ProxySnapshot {
  return {
    trustDomain: TD, datacenter: 'dc1', nodeName: 'web-node', defaultIntentionPolicy: 'allow', roots: [root.certPem], certs: { web: certs['web']! },
    intentions: [], accessLogs: false, inbound: [],
    upstreams: [{
      proxyId: 'web-sidecar-proxy', source: 'web', sourceSpiffeId: sid('web'), destination: 'api', datacenter: 'dc1', bindAddress: HOST, bindPort: upstreamPort,
      connectTimeoutMs: 2000, maxAttempts: 3, policy: 'round_robin', outlier: { consecutiveFailures: 2, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
      idleTimeoutMs: 60_000, endpoints,
    }],
    ...over,
  };
}

/** Connects to the upstream listener, writes `send`, half-closes, and collects everything until close. */
function roundTrip(send: Buffer | string, port = upstreamPort): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const s = netConnect({ host: HOST, port, allowHalfOpen: true }, () => s.end(send));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', (e) => (error = e.message));
    s.on('close', () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

async function metric(engine: ProxyEngine, re: RegExp): Promise<number> {
  const text = await engine.metricsText();
  return text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

before(async () => {
  root = await createRoot({ trustDomain: TD, clock: systemClock });
  const inter = await createIntermediate({ root, datacenter: 'dc1', trustDomain: TD, clock: systemClock });
  signer = new LeafSigner({ intermediate: inter, chainPem: [inter.certPem], rootId: root.id, clock: systemClock });
  certs['web'] = await leaf('web');
  certs['api'] = await leaf('api');
  // The application: reads until the caller half-closes, then answers "<bytes read>:" + the first 16 bytes, and closes.
  app = createServer({ allowHalfOpen: true }, (s) => {
    appSockets.add(s);
    s.once('close', () => appSockets.delete(s));
    let n = 0;
    let head = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      n += d.length;
      if (head.length < 16) head = Buffer.concat([head, d]).subarray(0, 16);
    });
    // "DOWN<n>" asks for n bytes back (the download direction); anything else gets the byte count.
    s.on('end', () => {
      const down = /^DOWN(\d+)/.exec(head.toString('latin1'));
      if (down !== null) s.end(Buffer.alloc(Number(down[1]), 9));
      else s.end(`${n}:${head.toString('latin1')}`);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => app.listen(0, HOST, r));
  appPort = (app.address() as { port: number }).port;
  apiPort = await freePort();
  upstreamPort = await freePort();
  apiEngine = new ProxyEngine({ clock: systemClock, random: systemRandom, logger: noopLogger });
  webEngine = new ProxyEngine({ clock: systemClock, random: systemRandom, logger: noopLogger });
  await apiEngine.apply(apiSnapshot());
  await webEngine.apply(webSnapshot([endpoint(apiPort)]));
});

after(() => {
  webEngine?.stop();
  apiEngine?.stop();
  for (const s of appSockets) s.destroy();
  app?.close();
});

test('bytes flow both ways through upstream -> tunnel -> inbound -> application, with half-close', async () => {
  const r = await roundTrip('hello through the mesh');
  assert.equal(r.error, undefined);
  assert.equal(r.data.toString(), '22:hello through th', 'the application saw the FIN and still answered');
});

test('backpressure: 32 MiB up through the proxies arrive whole', async () => {
  const big = Buffer.alloc(32 * 1024 * 1024, 7);
  const r = await roundTrip(big);
  assert.equal(r.data.toString().split(':')[0], String(big.length));
});

test('backpressure the other way: 32 MiB down from the application arrive whole through a slow reader', async () => {
  const size = 32 * 1024 * 1024;
  const got = await new Promise<number>((resolve) => {
    let n = 0;
    const s = netConnect({ host: HOST, port: upstreamPort, allowHalfOpen: true }, () => s.end(`DOWN${size}`));
    // Read in bursts with pauses, so the proxies must hold back rather than buffer everything.
    s.on('data', (d: Buffer) => {
      n += d.length;
      if (n % (4 * 1024 * 1024) < d.length) {
        s.pause();
        void systemClock.sleep(20).then(() => s.resume());
      }
    });
    s.on('error', () => {});
    s.on('close', () => resolve(n));
  });
  assert.equal(got, size);
});

test('many connections share one tunnel: one TLS handshake for 50 connections', async () => {
  const before = await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total/);
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => roundTrip(`c${i}`)));
  for (const r of rs) assert.match(r.data.toString(), /^\d+:c\d+$/);
  const after_ = await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total/);
  assert.ok(after_ - before <= 1, `${after_ - before} handshakes`);
  assert.equal(webEngine.tunnels.count(), 1);
});

test('a tunnel re-opened to the same endpoint resumes the TLS session instead of a full handshake', async () => {
  const resumedBefore = await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total\{resumed="true"\}/);
  webEngine.tunnels.close();
  assert.match((await roundTrip('r')).data.toString(), /^1:r$/);
  assert.equal(await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total\{resumed="true"\}/), resumedBefore + 1);
});

test('a deny intention refuses new streams before the application sees a byte; allow restores', async () => {
  const deny = [{ Kind: 'service-intentions' as const, Name: 'api', Sources: [{ Name: 'web', Action: 'deny' }] }];
  const seen = appSockets.size;
  await apiEngine.apply(apiSnapshot({ intentions: deny }));
  const r = await roundTrip('denied?');
  assert.equal(r.data.length, 0, 'nothing came back');
  assert.equal(appSockets.size, seen, 'the application got no connection');
  assert.ok(await metric(apiEngine, /^shoal_proxy_intention_denials_total\{source="web",destination="api"\}/) >= 1);
  assert.ok(await metric(webEngine, /^shoal_proxy_connections_closed_total\{.*outcome="denied"/) >= 1, 'the caller counts it denied');
  await apiEngine.apply(apiSnapshot());
  assert.match((await roundTrip('again')).data.toString(), /^5:again$/);
});

test('an endpoint presenting another identity fails the TLS check; the attempt moves to the next endpoint', async () => {
  const imposter = new ProxyEngine({ clock: systemClock, random: systemRandom, logger: noopLogger });
  const port = await freePort();
  const db = await leaf('db');
  await imposter.apply(apiSnapshot({
    certs: { db },
    inbound: [{ proxyId: 'db-sidecar-proxy', service: 'db', spiffeId: sid('db'), host: HOST, port, localAddress: HOST, localPort: appPort, localConnectTimeoutMs: 2000, idleTimeoutMs: 60_000 }],
  }));
  try {
    // The imposter claims to be api in the catalog, at `port`, but its certificate says db.
    await webEngine.apply(webSnapshot([endpoint(port), endpoint(apiPort)]));
    for (let i = 0; i < 4; i++) assert.match((await roundTrip('x')).data.toString(), /^1:x$/, 'every connection still succeeds');
    assert.ok(await metric(webEngine, /^shoal_proxy_ejections_total/) >= 1, 'the imposter was ejected after consecutive failures');
  } finally {
    imposter.stop();
    await webEngine.apply(webSnapshot([endpoint(apiPort)]));
  }
});

test('a plain mTLS client (no ALPN h2) gets one proxied TCP connection, with half-close', async () => {
  const { connect: tlsConnect } = await import('node:tls');
  const answer = await new Promise<string>((resolve, reject) => {
    let got = '';
    const s = tlsConnect({
      host: HOST, port: apiPort, cert: certs['web']!.certPem, key: certs['web']!.keyPem, ca: [root.certPem], servername: 'api',
      checkServerIdentity: (_h, cert) => (cert.subjectaltname === `URI:${sid('api')}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
    }, () => s.end('raw mtls'));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(got));
  });
  assert.equal(answer, '8:raw mtls');
});

test('plain TCP and a certificate of another trust domain get nothing through the inbound listener', async () => {
  const seen = appSockets.size;
  const plain = await roundTrip('GET / HTTP/1.1\r\n\r\n', apiPort);
  assert.doesNotMatch(plain.data.toString('latin1'), /\d+:GET/);
  const otherRoot = await createRoot({ trustDomain: 'other.test', clock: systemClock });
  const otherInter = await createIntermediate({ root: otherRoot, datacenter: 'dc1', trustDomain: 'other.test', clock: systemClock });
  const otherSigner = new LeafSigner({ intermediate: otherInter, chainPem: [otherInter.certPem], rootId: otherRoot.id, clock: systemClock });
  const foreignWeb = await leaf('web', 'other.test', otherSigner);
  // A web proxy holding a foreign certificate (it trusts our root, so only the server side can refuse).
  const foreign = new ProxyEngine({ clock: systemClock, random: systemRandom, logger: noopLogger });
  const port = await freePort();
  const snap = webSnapshot([endpoint(apiPort)], { certs: { web: foreignWeb } });
  snap.upstreams[0]!.bindPort = port;
  await foreign.apply(snap);
  try {
    const r = await roundTrip('x', port);
    assert.equal(r.data.length, 0);
    assert.equal(appSockets.size, seen, 'the application got no connection');
    assert.ok(await metric(apiEngine, /^shoal_proxy_connections_closed_total\{.*outcome="tls_failure"/) >= 2);
  } finally {
    foreign.stop();
  }
});

test('a renewed leaf applies to new connections; a connection open across the swap keeps working', async () => {
  const open = await new Promise<Socket>((resolve) => {
    const s = netConnect({ host: HOST, port: upstreamPort, allowHalfOpen: true }, () => resolve(s));
  });
  open.write('before-');
  const handshakes = await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total/);
  certs['web'] = await leaf('web');
  certs['api'] = await leaf('api');
  await webEngine.apply(webSnapshot([endpoint(apiPort)]));
  await apiEngine.apply(apiSnapshot());
  assert.match((await roundTrip('new')).data.toString(), /^3:new$/);
  assert.equal(await metric(webEngine, /^shoal_proxy_tunnel_handshakes_total/), handshakes + 1, 'a new tunnel with the new certificate');
  const answer = await new Promise<string>((resolve) => {
    let got = '';
    open.on('data', (d: Buffer) => (got += d.toString()));
    open.on('close', () => resolve(got));
    open.end('after');
  });
  assert.equal(answer, '12:before-after', 'the old tunnel drained the open connection');
});

test('a connection idle longer than the idle timeout is closed and counted as a timeout', async () => {
  const snap = webSnapshot([endpoint(apiPort)]);
  snap.upstreams[0]!.idleTimeoutMs = 300;
  await webEngine.apply(snap);
  try {
    const t0 = systemClock.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = netConnect({ host: HOST, port: upstreamPort }, () => s.write('idle'));
      s.on('error', () => {});
      s.on('close', () => resolve(systemClock.now() - t0));
    });
    assert.ok(closedAfter >= 250 && closedAfter < 5_000, `closed after ${closedAfter} ms`);
    // Counted once both sides closed, just after the client saw its close.
    let counted = 0;
    for (let i = 0; i < 50 && counted === 0; i++) {
      counted = await metric(webEngine, /^shoal_proxy_connections_closed_total\{.*outcome="timeout",reason="idle_timeout"/);
      if (counted === 0) await systemClock.sleep(20);
    }
    assert.ok(counted >= 1, 'counted as an idle timeout');
  } finally {
    await webEngine.apply(webSnapshot([endpoint(apiPort)]));
  }
});

test('an endpoint that accepts TCP but never finishes the TLS handshake: the stuck tunnel is dropped, the attempt moves on, the ejection is logged', async () => {
  const accepted = new Set<Socket>();
  let closedByClient = 0;
  const silent = createServer((sock) => {
    accepted.add(sock);
    sock.resume(); // reads (and ignores) the ClientHello, and so sees the proxy's FIN
    sock.on('error', () => {});
    sock.once('close', () => closedByClient++);
  });
  await new Promise<void>((r) => silent.listen(0, HOST, r));
  const silentPort = (silent.address() as { port: number }).port;
  const warnings: Array<Record<string, unknown>> = [];
  const logger = { ...noopLogger, warn: (f: object, msg: string) => warnings.push({ ...f, msg }), child: () => logger };
  const engine = new ProxyEngine({ clock: systemClock, random: systemRandom, logger });
  const port = await freePort();
  const base = webSnapshot([endpoint(silentPort), endpoint(apiPort)]);
  const upstream = { ...base.upstreams[0]!, bindPort: port, connectTimeoutMs: 300, outlier: { consecutiveFailures: 1, baseEjectionMs: 30_000, maxEjectionPercent: 50 } };
  try {
    await engine.apply({ ...base, upstreams: [upstream] });
    for (let i = 0; i < 3; i++) assert.match((await roundTrip('x', port)).data.toString(), /^1:x$/, 'every connection still succeeds');
    assert.equal(accepted.size, 1, 'one dial to the silent endpoint, then it was ejected');
    await waitFor('the proxy to close the stuck connection at the connect timeout', () => closedByClient === 1 || undefined, 5_000);
    assert.equal(engine.tunnels.count(), 1, 'only the tunnel to the answering endpoint is kept');
    const ejection = warnings.find((w) => w['msg'] === 'upstream endpoint ejected after consecutive failures');
    assert.equal(ejection?.['endpoint'], `${HOST}:${silentPort}`);
    assert.equal(ejection?.['reason'], 'connect_timeout');
  } finally {
    engine.stop();
    for (const sock of accepted) sock.destroy();
    silent.close();
  }
});

test('no healthy endpoint: the connection is closed and counted as a connect failure', async () => {
  await webEngine.apply(webSnapshot([]));
  const r = await roundTrip('x');
  assert.equal(r.data.length, 0);
  assert.ok(await metric(webEngine, /^shoal_proxy_connections_closed_total\{.*reason="no_healthy_endpoint"/) >= 1);
  await webEngine.apply(webSnapshot([endpoint(apiPort)]));
});
