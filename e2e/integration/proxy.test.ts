/**
 * The data plane with real agent processes: one server (s0), a caller node (web, on w1) and three
 * `api` nodes (a1-a3), each api node with an HTTP application (in this test process) that answers
 * its node's name. web reaches api through its upstream listener; every request is a new TCP
 * connection, so every request is a new proxied connection (a new tunnel stream).
 *
 * Checked: plain TCP and a certificate from another trust domain get nothing through an inbound
 * listener; deny and allow intentions take effect for new connections within 2 s; 60 s of saturating
 * load with no member ever suspected; a root rotation under continuous traffic with zero failed
 * connections; an api instance killed under load: after its ejection no failed connections, and the
 * survivors share the load.
 *
 * Addresses: 127.0.11.10-14 (this file owns 127.0.11.0/24).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  createCsr, createIntermediate, createRoot, exportKeyPem, generateKeyPair, LeafSigner, writeMaterial, type Identity,
} from '../../ca/src';
import { systemClock } from '../../agent/src/core/clock';
import { caConfig, caStatus, makeCaFiles, TRUST_DOMAIN, type CaFiles } from './ca-helpers';
import { Cluster, http, renderSightings, sample, since, waitFor, waitForViews, watchMembers, type TestAgent } from './harness';
import { Load, NamedApp } from './proxy-load';

const cluster = new Cluster('proxy');
const apps: NamedApp[] = [];
after(async () => {
  await Promise.all(apps.map((a) => a.stop().catch(() => {})));
  await cluster.cleanup();
});

const ip = (i: number): string => `127.0.11.${i}`;
const seeds = ['-retry-join', ip(10)];
const APP_PORT = 9300;
const UPSTREAM_PORT = 9191;
const INBOUND_PORT = 21000;
let files: CaFiles;
let server: TestAgent;
let web: TestAgent;
const apiNodes: TestAgent[] = [];
let everyone: TestAgent[] = [];

function apiConfig(node: number): Record<string, unknown> {
  return {
    ...caConfig(files, false), default_intention_policy: 'deny',
    services: [{ name: 'api', port: APP_PORT, connect: { sidecar_service: { port: INBOUND_PORT, proxy: { local_service_address: ip(node) } } } }],
  };
}

async function writeIntention(action: 'allow' | 'deny'): Promise<void> {
  const r = await http(server.base, 'PUT', '/v1/config', { Kind: 'service-intentions', Name: 'api', Sources: [{ Name: 'web', Action: action }] });
  assert.equal(r.status, 200, r.text);
}

/** One request through web's upstream: the answering node, or the error. */
async function viaUpstream(): Promise<{ ok: boolean; body: string }> {
  const load = new Load(ip(11), UPSTREAM_PORT, 1, 5_000);
  load.start();
  await systemClock.sleep(1);
  const r = await load.stop();
  return r.ok > 0 ? { ok: true, body: [...r.byBody.keys()][0]! } : { ok: false, body: r.failures[0]?.error ?? 'nothing' };
}

/** Waits until each of the three api instances has answered through web's upstream. */
async function waitAllAnswer(timeoutMs: number): Promise<void> {
  const seen = new Set<string>();
  await waitFor('web to reach all three api instances through its upstream', async () => {
    const r = await viaUpstream();
    if (r.ok) seen.add(r.body);
    return seen.size === 3;
  }, { timeoutMs, everyMs: 50, describe: () => `answered so far: ${[...seen].join(', ')}` });
}

test('setup: a server, web with an upstream to api, three api instances; web reaches api over mTLS', { timeout: 90_000 }, () => cluster.diagnose(async () => {
  files = await makeCaFiles(cluster);
  server = cluster.add({ name: 's0', ip: ip(10), args: seeds, config: { ...caConfig(files, true), default_intention_policy: 'deny' } });
  web = cluster.add({
    name: 'w1', ip: ip(11), args: seeds,
    config: {
      ...caConfig(files, false), default_intention_policy: 'deny',
      services: [{
        name: 'web', port: 9400,
        connect: { sidecar_service: { port: INBOUND_PORT, proxy: { upstreams: [{ destination_name: 'api', local_bind_address: ip(11), local_bind_port: UPSTREAM_PORT }] } } },
      }],
    },
  });
  for (let i = 1; i <= 3; i++) {
    const app = new NamedApp(`a${i}`, ip(11 + i), APP_PORT);
    await app.start();
    apps.push(app);
  }
  everyone = [server, web];
  await Promise.all([server.start(), web.start()]);
  for (let i = 1; i <= 3; i++) {
    const a = cluster.add({ name: `a${i}`, ip: ip(11 + i), args: seeds, config: apiConfig(11 + i) });
    apiNodes.push(a);
    everyone.push(a);
  }
  await Promise.all(apiNodes.map((a) => a.start()));
  await waitForViews('the cluster to converge', everyone, Object.fromEntries(everyone.map((a) => [a.name, 'alive'])), 15_000);
  // Default deny: nothing passes until an intention allows web -> api.
  await writeIntention('allow');
  await waitAllAnswer(40_000);
  const m = await web.metrics();
  assert.ok(sample(m, 'shoal_proxy_connections_closed_total', { source: 'web', destination: 'api', direction: 'outbound', outcome: 'ok', reason: '' }) >= 3);
  const access = web.logLines().filter((l) => l['msg'] === 'access' && l['direction'] === 'outbound');
  assert.ok(access.length > 0, 'an access log line per connection');
  assert.equal(access[0]!['source'], `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/web`);
  assert.equal(access[0]!['destination'], `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/api`);
  // The server has no local mesh service: it runs no proxy worker (and so reports no proxy metrics).
  const proxyNames = (x: Map<string, number>): string[] => [...x.keys()].filter((k) => k.startsWith('shoal_proxy_'));
  assert.deepEqual(proxyNames(await server.metrics()), [], 'no proxy worker on a node without sidecars or upstreams');
  assert.ok(proxyNames(m).length > 0);
}));

test('an inbound listener lets nothing through without a client certificate of this trust domain', { timeout: 60_000 }, () => cluster.diagnose(async () => {
  const app = apps[0]!;
  const before = app.requests;
  // Plain TCP: the bytes are not TLS, the handshake fails, the connection closes.
  const plain = await new Promise<string>((resolve) => {
    let got = '';
    const s = netConnect({ host: ip(12), port: INBOUND_PORT }, () => s.write('GET / HTTP/1.1\r\nHost: api\r\n\r\n'));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
    s.setTimeout(5_000, () => s.destroy());
  });
  assert.doesNotMatch(plain, /HTTP\/1\.1 200|a1/, 'plain TCP got no answer from the application');

  // A certificate from another trust domain (its own root): refused.
  const otherDomain = 'other.test';
  const root = await createRoot({ trustDomain: otherDomain, clock: systemClock });
  const inter = await createIntermediate({ root, datacenter: 'dc1', trustDomain: otherDomain, clock: systemClock });
  await writeMaterial(`${cluster.root}/other-pki`, 'root', root);
  const signer = new LeafSigner({ intermediate: inter, chainPem: [inter.certPem], rootId: root.id, clock: systemClock });
  const id: Identity = { kind: 'service', trustDomain: otherDomain, namespace: 'default', datacenter: 'dc1', service: 'web' };
  const keys = await generateKeyPair();
  const signed = await signer.sign(await createCsr({ identity: id, keys }), id);
  const foreignKey = await exportKeyPem(keys.privateKey);
  const foreign = await new Promise<string>((resolve) => {
    let got = '';
    const s = tlsConnect({
      host: ip(12), port: INBOUND_PORT, cert: [signed.certPem, ...signed.chainPem].join('\n'), key: foreignKey,
      rejectUnauthorized: false, servername: 'api',
    }, () => s.write('GET / HTTP/1.1\r\nHost: api\r\n\r\n'));
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('error', (e) => (got += `error:${(e as NodeJS.ErrnoException).code ?? e.message}`));
    s.on('close', () => resolve(got));
    s.setTimeout(5_000, () => s.destroy());
  });
  assert.doesNotMatch(foreign, /HTTP\/1\.1 200|a1/, `a foreign certificate got through: ${foreign}`);
  assert.equal(app.requests, before, 'the application saw no request');
  const m = await apiNodes[0]!.metrics();
  const refused = [...m.entries()].filter(([k]) => k.startsWith('shoal_proxy_connections_closed_total{') && k.includes('outcome="tls_failure"'));
  assert.ok(refused.reduce((n, [, v]) => n + v, 0) >= 2, `both refusals counted: ${JSON.stringify(refused)}`);
}));

test('a deny intention blocks new connections and an allow lets them through, each within 2 s of the write', { timeout: 60_000 }, (t) => cluster.diagnose(async () => {
  const t0 = systemClock.now();
  await writeIntention('deny');
  // Effective everywhere: six denials in a row (round robin goes twice over the three instances).
  let denied = 0;
  await waitFor('the deny to take effect on every api instance', async () => {
    denied = (await viaUpstream()).ok ? 0 : denied + 1;
    return denied >= 6;
  }, { timeoutMs: 2_000, everyMs: 1 });
  const denyMs = since(t0);
  const before = apps.map((a) => a.requests);
  for (let i = 0; i < 5; i++) assert.equal((await viaUpstream()).ok, false, 'denied connections stay denied');
  assert.deepEqual(apps.map((a) => a.requests), before, 'no byte of a denied connection reached an application');
  const t1 = systemClock.now();
  await writeIntention('allow');
  // Every instance applies it: each of the three answers within the 2 s.
  const answered = new Set<string>();
  await waitFor('the allow to take effect on every api instance', async () => {
    const r = await viaUpstream();
    if (r.ok) answered.add(r.body);
    return answered.size === 3;
  }, { timeoutMs: 2_000, everyMs: 10, describe: () => `answered: ${[...answered].join(', ')}` });
  const allowMs = since(t1);
  let denials = 0;
  for (const a of apiNodes) denials += sample(await a.metrics(), 'shoal_proxy_intention_denials_total', { source: 'web', destination: 'api' });
  assert.ok(denials >= 1, 'denials counted');
  const logged = apiNodes.flatMap((a) => a.logLines()).filter((l) => l['msg'] === 'access' && l['outcome'] === 'denied');
  assert.ok(logged.length >= 1, 'denials in the access log');
  assert.equal(logged[0]!['source'], `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/web`);
  assert.equal(logged[0]!['destination'], `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/api`);
  t.diagnostic(`deny effective after ${denyMs} ms, allow after ${allowMs} ms; ${denials} denials counted`);
}));

test('60 s of saturating load through the proxies: no member is ever suspected', { timeout: 120_000 }, (t) => cluster.diagnose(async () => {
  const watch = watchMembers(() => everyone, { flag: ['suspect', 'failed', 'dead'], everyMs: 250, maxMs: 90_000 });
  const load = new Load(ip(11), UPSTREAM_PORT, 32, 75_000).start();
  const wrk = await runWrk(`http://${ip(11)}:${UPSTREAM_PORT}/`, 64, 60);
  const r = await load.stop();
  const { sightings, polls } = await watch.stop();
  t.diagnostic(`wrk (64 keep-alive connections, 60 s): ${wrk.summary}; new-connection loop: ${r.ok} requests, ${r.failures.length} failed; ${polls} membership polls`);
  assert.deepEqual(sightings, [], renderSightings(sightings));
  assert.equal(r.failures.length, 0, JSON.stringify(r.failures.slice(0, 5)));
  assert.ok(wrk.requests > 1000, wrk.summary);
}));

test('a root rotation under continuous traffic: zero failed connections', { timeout: 240_000 }, (t) => cluster.diagnose(async () => {
  const root = await createRoot({ trustDomain: TRUST_DOMAIN, clock: systemClock });
  const p = await writeMaterial(files.dir, 'root-2', root);
  const load = new Load(ip(11), UPSTREAM_PORT, 8, 200_000).start();
  await systemClock.sleep(2_000);
  const t0 = systemClock.now();
  const r = await server.cli(['ca', 'rotate', '--new-root-cert', p.certPath, '--new-root-key', p.keyPath, '--old-root-key', files.rootKey,
    '--reissue-window', '10s', '--drop-grace', '6s']);
  assert.equal(r.code, 0, r.stderr);
  let last = '';
  await waitFor('the rotation to finish everywhere', async () => {
    const all = await Promise.all(everyone.map((a) => caStatus(a)));
    last = JSON.stringify(all[0]?.Rotation);
    return all.every((s) => s.Rotation?.Phase === 'done' && s.RootIDs.length === 1 && s.RootIDs[0] === root.id);
  }, { timeoutMs: 150_000, everyMs: 500, describe: () => last });
  const tookMs = since(t0);
  // Traffic keeps flowing after the old root is gone: tunnels opened under it were replaced.
  await systemClock.sleep(5_000);
  const res = await load.stop();
  t.diagnostic(`rotation took ${tookMs} ms; ${res.ok} proxied connections during it, ${res.failures.length} failed`);
  assert.deepEqual(res.failures.slice(0, 10), [], `${res.failures.length} connections failed`);
  assert.ok(res.ok > 200, `${res.ok} connections`);
}));

test('an api instance killed under load: no failed connection after its ejection, the survivors share the load', { timeout: 180_000 }, (t) => cluster.diagnose(async () => {
  // Start from all three serving: an instance ejected by the earlier tests' load (an outlier
  // ejection lasts 30 s or more) would otherwise look like a survivor that gets no share.
  const t0 = systemClock.now();
  await waitAllAnswer(90_000);
  t.diagnostic(`all three api instances answered ${since(t0)} ms into this test`);
  const load = new Load(ip(11), UPSTREAM_PORT, 8, 60_000).start();
  await systemClock.sleep(3_000);
  const killedAt = load.now();
  await apiNodes[2]!.kill9();
  // The killed node's inbound port now refuses: attempts on it fail and are retried elsewhere; the
  // outlier detector ejects it after consecutive failures, then gossip declares it dead.
  let ejectedAt = 0;
  await waitFor('the killed instance to be ejected or removed', async () => {
    const m = await web.metrics();
    const ejections = sample(m, 'shoal_proxy_ejections_total', { source: 'web', destination: 'api' });
    // Consul's member status numbers: 1 alive, 3 left, 4 failed.
    const status = (await web.members()).find((x) => x.Name === 'a3')?.Status;
    return ejections >= 1 || status === 4;
  }, { timeoutMs: 20_000, everyMs: 50 });
  ejectedAt = load.now();
  load.mark();
  await systemClock.sleep(8_000);
  const r = await load.stop();
  const after = r.failures.filter((f) => f.atMs > ejectedAt);
  const around = r.failures.filter((f) => f.atMs >= killedAt && f.atMs <= ejectedAt);
  const share = [...r.byBodyAfterMark.entries()].map(([k, v]) => `${k}=${v}`).join(' ');
  t.diagnostic(`ejected ${ejectedAt - killedAt} ms after the kill; ${around.length} connections failed before that (in flight on the killed node), ${after.length} after; after: ${share}`);
  assert.deepEqual(after, [], 'no failed connection after the ejection');
  const a1 = r.byBodyAfterMark.get('a1') ?? 0;
  const a2 = r.byBodyAfterMark.get('a2') ?? 0;
  assert.equal(r.byBodyAfterMark.get('a3') ?? 0, 0, 'the killed instance answers nothing');
  assert.ok(a1 > 50 && a2 > 50, `both survivors serve: ${share}`);
  assert.ok(Math.min(a1, a2) / Math.max(a1, a2) > 0.6, `the survivors share the load: ${share}`);
}));

/** Runs wrk (installed by .ci/run) and returns its request count and a one-line summary. */
async function runWrk(url: string, connections: number, seconds: number): Promise<{ requests: number; summary: string }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', (e) => reject(new Error(`wrk could not run (apt-get install -y wrk): ${e.message}`)));
    child.on('exit', () => resolve(text));
  });
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? '?';
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: [^\n]+/.exec(out)?.[0] ?? 'no errors';
  return { requests, summary: `${requests} requests, ${rps} req/s, ${errors}` };
}
