/**
 * The CA server and client over real gRPC on loopback (127.0.0.1, port 0): bootstrap and mTLS
 * authentication, authorization, rate limiting, signer switching, hot TLS swap, and the client's
 * error mapping and timeout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as NetServer } from 'node:net';
import { X509Certificate as NodeX509 } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { systemClock, VirtualClock, type Clock } from '../../agent/src/core/clock';
import { noopLogger } from '../../agent/src/core/logger';
import {
  CaError, CaErrorCode, CaGrpcClient, CaLocalErrorCode, CaServer, createCsr, createIntermediate, createRoot, exportKeyPem, generateKeyPair,
  LeafSigner, type CaServerOptions, type Identity, type SignAuth, type SignResponse,
} from '../src';
import { agentId, DC, fullChain, makePki, opensslVerify, serviceId, TD, tempDir, type Pki } from './helpers';

const TOKEN = 'bootstrap-secret-1';
const tmp = tempDir();
let pki: Pki;
let caPems: string[];
let server: CaServer;
let addr = '';
const outcomes = new Map<string, number>();
/** node -> services registered on it (what the catalog would say). */
const registry = new Map<string, Set<string>>([['node-a', new Set(['web'])], ['node-b', new Set(['db'])]]);
const client = new CaGrpcClient({ clock: systemClock });

/** An agent's credentials after it has its own certificate. */
interface AgentCreds {
  certPem: string;
  keyPem: string;
}

async function leafFor(signer: LeafSigner, id: Identity): Promise<AgentCreds & { res: SignResponse }> {
  const keys = await generateKeyPair();
  const res = await signer.sign(await createCsr({ identity: id, keys }), id);
  return { certPem: fullChain(res), keyPem: await exportKeyPem(keys.privateKey), res };
}

function serverOptions(overrides: Partial<CaServerOptions>, tls: CaServerOptions['tls']): CaServerOptions {
  return {
    host: '127.0.0.1', port: 0, tls, signer: pki.signer, trustDomain: TD, datacenter: DC, bootstrapToken: TOKEN,
    authorize: (node, dc, svc) => dc === DC && (registry.get(node)?.has(svc) ?? false),
    rateLimit: { ratePerSec: 0, burst: 1 }, clock: systemClock, logger: noopLogger,
    metrics: { request: (o) => outcomes.set(o, (outcomes.get(o) ?? 0) + 1) },
    ...overrides,
  };
}

const baseAuth = (): SignAuth => ({ caPems, trustDomain: TD });
const bootstrapAuth = (token = TOKEN): SignAuth => ({ ...baseAuth(), bootstrapToken: token });
const mtlsAuth = (c: AgentCreds): SignAuth => ({ ...baseAuth(), clientCertPem: c.certPem, clientKeyPem: c.keyPem });

async function request(id: Identity, auth: SignAuth, opts: { ttlMs?: number; at?: string; c?: CaGrpcClient } = {}): Promise<{ res: SignResponse; keyPem: string }> {
  const keys = await generateKeyPair();
  const csrPem = await createCsr({ identity: id, keys });
  const res = await (opts.c ?? client).sign(opts.at ?? addr, { csrPem, ...(opts.ttlMs === undefined ? {} : { ttlMs: opts.ttlMs }) }, auth, 5000);
  return { res, keyPem: await exportKeyPem(keys.privateKey) };
}

/** Asserts a CaError with `code`, gRPC `status` and `retryable`. */
function failsWith(code: string, status: number, retryable: boolean, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof CaError, `not a CaError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.grpcStatus, status, `status ${err.grpcStatus} for ${err.message}`);
    assert.equal(err.retryable, retryable);
    if (message) assert.match(err.message, message);
    return true;
  };
}

before(async () => {
  pki = await makePki(systemClock);
  caPems = [pki.root.certPem, pki.intermediate.certPem];
  const serverLeaf = await leafFor(pki.signer, agentId('server-1'));
  server = new CaServer(serverOptions({}, { certPem: serverLeaf.certPem, keyPem: serverLeaf.keyPem, caPems }));
  addr = `127.0.0.1:${await server.start()}`;
});

after(async () => {
  client.close();
  await server.stop();
  tmp.cleanup();
});

test('bootstrap: with the token and no certificate an agent obtains its own agent certificate', async () => {
  const { res } = await request(agentId('node-a'), bootstrapAuth());
  assert.equal(new NodeX509(res.certPem).subjectAltName, 'URI:spiffe://example.org/agent/dc/dc1/node/node-a');
  assert.equal(res.rootId, pki.root.id);
  assert.deepEqual(res.chainPem, [pki.intermediate.certPem]);
  const v = opensslVerify(tmp.dir, pki.root.certPem, res.chainPem, res.certPem);
  assert.ok(v.ok, v.out);
});

test('mTLS: the agent certificate authenticates; service leaves only for services registered on that node', async () => {
  const boot = await request(agentId('node-a'), bootstrapAuth());
  const creds = { certPem: fullChain(boot.res), keyPem: boot.keyPem };
  const { res } = await request(serviceId('web'), mtlsAuth(creds));
  assert.equal(new NodeX509(res.certPem).subjectAltName, 'URI:spiffe://example.org/ns/default/dc/dc1/svc/web');
  // Renewing its own agent certificate.
  await request(agentId('node-a'), mtlsAuth(creds));
  // db is registered on node-b, not on node-a.
  await assert.rejects(request(serviceId('db'), mtlsAuth(creds)), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /service db is not registered on node node-a/));
  // Another node's agent certificate.
  await assert.rejects(request(agentId('node-b'), mtlsAuth(creds)), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /node node-a may not obtain the certificate of node node-b/));
  // Another datacenter.
  await assert.rejects(request(serviceId('web', 'dc2'), mtlsAuth(creds)), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /datacenter dc1/));
  // mTLS wins over a (wrong) token: the certificate is the stronger proof.
  await request(serviceId('web'), { ...mtlsAuth(creds), bootstrapToken: 'wrong' });
});

test('a wrong token, or neither token nor certificate, is UNAUTHENTICATED', async () => {
  await assert.rejects(request(agentId('node-a'), bootstrapAuth('nope')), failsWith(CaErrorCode.unauthenticated, grpc.status.UNAUTHENTICATED, false, /bootstrap token does not match/));
  await assert.rejects(request(agentId('node-a'), baseAuth()), failsWith(CaErrorCode.unauthenticated, grpc.status.UNAUTHENTICATED, false, /no client certificate .* and no bootstrap token/));
});

test('the bootstrap token obtains only an agent certificate', async () => {
  await assert.rejects(request(serviceId('web'), bootstrapAuth()), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /only the agent's own certificate/));
});

test('a service certificate cannot be used to request certificates', async () => {
  const svc = await leafFor(pki.signer, serviceId('web'));
  await assert.rejects(request(serviceId('web'), mtlsAuth(svc)), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /is a service identity/));
});

test('a client certificate from another CA does not authenticate (treated as none)', async () => {
  const foreign = await makePki(systemClock);
  const creds = await leafFor(foreign.signer, agentId('node-a'));
  await assert.rejects(request(serviceId('web'), mtlsAuth(creds)), failsWith(CaErrorCode.unauthenticated, grpc.status.UNAUTHENTICATED, false));
});

test('an invalid CSR is INVALID_ARGUMENT with the reason', async () => {
  await assert.rejects(client.sign(addr, { csrPem: 'nonsense' }, bootstrapAuth(), 5000), failsWith(CaErrorCode.csrInvalid, grpc.status.INVALID_ARGUMENT, false, /not one PEM block/));
});

test('the server clamps the requested TTL', async () => {
  const { res } = await request(agentId('node-a'), bootstrapAuth(), { ttlMs: 1000 });
  assert.equal(res.notAfterMs - res.notBeforeMs, 3_600_000 + 60_000);
  const { res: long } = await request(agentId('node-a'), bootstrapAuth(), { ttlMs: 50 * 365 * 86_400_000 });
  // One year at most; here a little less, as the intermediate (1 year, made a moment ago) caps it.
  const lifetime = long.notAfterMs - long.notBeforeMs - 60_000;
  assert.ok(lifetime <= 365 * 86_400_000 && lifetime > 365 * 86_400_000 - 60_000, String(lifetime));
});

test('a server without a signer answers NOT_SIGNER (UNAVAILABLE, retryable); setSigner turns signing back on', async () => {
  server.setSigner(undefined);
  try {
    await assert.rejects(request(agentId('node-a'), bootstrapAuth()), failsWith(CaErrorCode.notSigner, grpc.status.UNAVAILABLE, true));
  } finally {
    server.setSigner(pki.signer);
  }
  await request(agentId('node-a'), bootstrapAuth());
});

test('over the rate limit: RESOURCE_EXHAUSTED with SHOAL_ERR_CA_RATE_LIMITED, retryable; tokens refill with time', async () => {
  const clock = new VirtualClock(0);
  const leaf = await leafFor(pki.signer, agentId('server-2'));
  const limited = new CaServer(serverOptions({ clock, rateLimit: { ratePerSec: 1, burst: 2 } }, { ...leaf, caPems }));
  const at = `127.0.0.1:${await limited.start()}`;
  try {
    await request(agentId('node-a'), bootstrapAuth(), { at });
    await request(agentId('node-a'), bootstrapAuth(), { at });
    await assert.rejects(request(agentId('node-a'), bootstrapAuth(), { at }), failsWith(CaErrorCode.rateLimited, grpc.status.RESOURCE_EXHAUSTED, true, /retry in 1000 ms/));
    clock.advance(1000);
    await request(agentId('node-a'), bootstrapAuth(), { at });
  } finally {
    await limited.stop();
  }
});

test('the client checks the server identity: agent SPIFFE ID of the expected trust domain and datacenter', async () => {
  await assert.rejects(request(agentId('node-a'), { ...bootstrapAuth(), trustDomain: 'other.org' }), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true, /presented spiffe:\/\/example.org\/agent\/dc\/dc1\/node\/server-1, not in trust domain other.org/));
  await assert.rejects(request(agentId('node-a'), { ...bootstrapAuth(), datacenter: 'dc2' }), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true));
  await request(agentId('node-a'), { ...bootstrapAuth(), datacenter: DC });
  // A server presenting a service certificate is not a CA server.
  const svc = await leafFor(pki.signer, serviceId('web'));
  const impostor = new CaServer(serverOptions({}, { ...svc, caPems }));
  const at = `127.0.0.1:${await impostor.start()}`;
  try {
    await assert.rejects(request(agentId('node-a'), bootstrapAuth(), { at }), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true));
  } finally {
    await impostor.stop();
  }
});

test('updateTls swaps the server certificate and bundle for new connections', async () => {
  const leafA = await leafFor(pki.signer, agentId('server-3'));
  const s = new CaServer(serverOptions({}, { ...leafA, caPems }));
  const at = `127.0.0.1:${await s.start()}`;
  const other = await makePki(systemClock);
  const otherCas = [other.root.certPem, other.intermediate.certPem];
  try {
    await request(agentId('node-a'), bootstrapAuth(), { at });
    const leafB = await leafFor(other.signer, agentId('server-3'));
    s.updateTls({ ...leafB, caPems: otherCas });
    // New clients (new connections): one trusting the new PKI gets through, one trusting the old does not.
    const fresh = new CaGrpcClient({ clock: systemClock });
    try {
      await request(agentId('node-a'), { caPems: otherCas, trustDomain: TD, bootstrapToken: TOKEN }, { at, c: fresh });
      const stale = new CaGrpcClient({ clock: systemClock });
      await assert.rejects(request(agentId('node-a'), bootstrapAuth(), { at, c: stale }), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true));
      stale.close();
    } finally {
      fresh.close();
    }
  } finally {
    await s.stop();
  }
});

test('client: unreachable server is UNAVAILABLE (retryable)', async () => {
  const c = new CaGrpcClient({ clock: systemClock });
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  try {
    await assert.rejects(c.sign(`127.0.0.1:${port}`, { csrPem: 'x' }, bootstrapAuth(), 5000), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true));
  } finally {
    c.close();
  }
});

test('client: a server back on its address after a failure is reached by the next call, not after gRPC\'s reconnect backoff', async () => {
  const leaf = await leafFor(pki.signer, agentId('server-4'));
  const first = new CaServer(serverOptions({}, { ...leaf, caPems }));
  const port = await first.start();
  const at = `127.0.0.1:${port}`;
  const c = new CaGrpcClient({ clock: systemClock });
  let second: CaServer | undefined;
  try {
    await request(agentId('node-a'), bootstrapAuth(), { at, c });
    await first.stop();
    // The channel's connection is gone: calls fail (UNAVAILABLE) and the channel enters backoff.
    await assert.rejects(request(agentId('node-a'), bootstrapAuth(), { at, c }), failsWith(CaLocalErrorCode.unavailable, grpc.status.UNAVAILABLE, true));
    second = new CaServer(serverOptions({ port }, { ...leaf, caPems }));
    await second.start();
    // At once: the old channel would still be in its backoff (>= 500 ms) and fail this call fast.
    const { res } = await request(agentId('node-a'), bootstrapAuth(), { at, c });
    assert.equal(new NodeX509(res.certPem).subjectAltName, 'URI:spiffe://example.org/agent/dc/dc1/node/node-a');
  } finally {
    c.close();
    await second?.stop();
  }
});

test('client: the timeout runs on the injected clock and is retryable', async () => {
  // A server that accepts TCP and never answers.
  const sockets = new Set<import('node:net').Socket>();
  const silent: NetServer = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const clock: Clock & { advance(ms: number): void } = new VirtualClock(0);
  const c = new CaGrpcClient({ clock });
  try {
    const p = c.sign(`127.0.0.1:${port}`, { csrPem: 'x' }, bootstrapAuth(), 3000);
    clock.advance(2999);
    let settled = false;
    void p.then(() => (settled = true), () => (settled = true));
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(settled, false);
    clock.advance(1);
    await assert.rejects(p, failsWith(CaLocalErrorCode.timeout, grpc.status.DEADLINE_EXCEEDED, true));
  } finally {
    c.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

test('a second datacenter\'s intermediate under the same root: its agents cannot use this server', async () => {
  const dc2 = await createIntermediate({ root: pki.root, datacenter: 'dc2', trustDomain: TD, clock: systemClock });
  const signer2 = new LeafSigner({ intermediate: dc2, chainPem: [dc2.certPem], rootId: pki.root.id, clock: systemClock });
  const agent2 = await leafFor(signer2, agentId('node-z', 'dc2'));
  await assert.rejects(request(agentId('node-z', 'dc2'), { ...mtlsAuth(agent2), caPems: [...caPems, dc2.certPem] }), failsWith(CaErrorCode.forbidden, grpc.status.PERMISSION_DENIED, false, /not in datacenter dc1/));
});

test('a root from createRoot with a foreign trust domain does not change anything here (sanity of fixtures)', async () => {
  const r = await createRoot({ trustDomain: 'other.org', clock: systemClock });
  assert.notEqual(r.id, pki.root.id);
});

test('every outcome was counted', () => {
  for (const o of ['ok', 'forbidden', 'unauthenticated', 'csr_invalid', 'not_signer', 'rate_limited']) {
    assert.ok((outcomes.get(o) ?? 0) > 0, `no ${o} counted: ${JSON.stringify([...outcomes])}`);
  }
});
