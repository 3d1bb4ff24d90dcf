/**
 * Root rotation with real agent processes (three servers, two clients) while mutual-TLS connections
 * are opened continuously between two services' leaves: a TLS server in this test presents `back`'s
 * leaf (from c1's /v1/agent/connect/ca/leaf) and a TLS client presents `front`'s (from c0); each side
 * re-reads its agent's roots and leaf every 2 s, as a proxy would on change notifications. The
 * rotation runs through `shoal ca rotate` (root keys stay with the operator's CLI); not one handshake
 * may fail. A second, manual rotation shows refusals of unsafe steps and a coordinator restart.
 *
 * Addresses: 127.0.7.11-15, the TLS pair on 127.0.7.20 (this file owns 127.0.7.10-29).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { createRoot, writeMaterial, type CaMaterial } from '../../ca/src';
import { systemClock, type TimerHandle } from '../../agent/src/core/clock';
import { caConfig, caStatus, leaf, makeCaFiles, registerWithSidecar, rootsPem, splitPem, TRUST_DOMAIN, waitLeaf, type CaFiles } from './ca-helpers';
import { Cluster, since, waitFor, waitForViews, type TestAgent } from './harness';

const cluster = new Cluster('ca-rotation');
// Stop the handshake loop even when a test failed before stopping it: its timers would keep the
// process (and the whole test run) alive forever.
after(async () => {
  await (pair as MtlsPair | undefined)?.stop();
  await cluster.cleanup();
});

const ip = (i: number): string => `127.0.7.${i}`;
const seeds = ['-retry-join', ip(11), '-retry-join', ip(12)];
const uri = (svc: string): string => `spiffe://${TRUST_DOMAIN}/ns/default/dc/dc1/svc/${svc}`;
let files: CaFiles;
const servers: TestAgent[] = [];
const clients: TestAgent[] = [];
let everyone: TestAgent[] = [];

/** TLS material of one side, re-read from its agent. */
interface Material { cert: string; key: string; ca: string }

async function material(agent: TestAgent, service: string): Promise<Material> {
  // Roots first, then the leaf: a leaf read after the roots never needs a root dropped before it.
  const ca = await rootsPem(agent);
  const l = (await leaf(agent, service)).cert;
  if (l === undefined) throw new Error(`${agent.name}: no leaf for ${service}`);
  return { cert: l.CertPEM, key: l.PrivateKeyPEM, ca };
}

/** Opens a mutual-TLS connection every `everyMs` from `front` to `back`, counting outcomes. */
class MtlsPair {
  ok = 0;
  readonly failures: string[] = [];
  refreshes = 0;
  private server: Server | undefined;
  private port = 0;
  private client!: Material;
  private stopped = false;
  private timers: TimerHandle[] = [];
  private inflight = new Set<Promise<void>>();

  constructor(private readonly front: TestAgent, private readonly back: TestAgent) {}

  async start(): Promise<void> {
    const srv = await material(this.back, 'back');
    this.client = await material(this.front, 'front');
    this.server = createServer({ cert: srv.cert, key: srv.key, ca: srv.ca, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      const peer = s.getPeerX509Certificate()?.subjectAltName;
      s.end(peer === `URI:${uri('front')}` ? 'ok' : `bad peer ${peer}`);
    });
    this.server.on('tlsClientError', (e) => this.failures.push(`server side: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    await new Promise<void>((r) => this.server!.listen(0, ip(20), r));
    this.port = (this.server.address() as { port: number }).port;
    this.loop(() => this.refresh(), 2000);
    this.loop(() => this.track(this.handshake()), 20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) systemClock.clearTimer(t);
    await Promise.all([...this.inflight]);
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  private loop(fn: () => void | Promise<void>, everyMs: number): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (err) {
        this.failures.push(`refresh: ${(err as Error).message}`);
      }
      if (!this.stopped) this.timers.push(systemClock.setTimer(everyMs, () => void tick()));
    };
    void tick();
  }

  private async refresh(): Promise<void> {
    const [srv, cli] = await Promise.all([material(this.back, 'back'), material(this.front, 'front')]);
    this.server?.setSecureContext({ cert: srv.cert, key: srv.key, ca: srv.ca });
    this.client = cli;
    this.refreshes++;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private handshake(): Promise<void> {
    const m = this.client;
    return new Promise((resolve) => {
      let data = '';
      let settled = false;
      const done = (failure?: string): void => {
        if (settled) return;
        settled = true;
        systemClock.clearTimer(timer);
        if (failure === undefined) this.ok++;
        else this.failures.push(failure);
        socket.destroy();
        resolve();
      };
      const socket = connect({
        host: ip(20), port: this.port, cert: m.cert, key: m.key, ca: m.ca,
        checkServerIdentity: (_h, cert) => (cert.subjectaltname === `URI:${uri('back')}` ? undefined : new Error(`server is ${cert.subjectaltname}`)),
      });
      // TLS 1.3: a refused client certificate shows as an alert after secureConnect; success is the server's 'ok'.
      socket.on('data', (d: Buffer) => {
        data += d.toString();
        if (data === 'ok') done();
        else if (data.length >= 2 && !'ok'.startsWith(data)) done(`server said ${data}`);
      });
      socket.on('error', (e) => done(`client side: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      socket.on('close', () => done(data === 'ok' ? undefined : 'closed without the server\'s ok'));
      // Generous: on a loaded 2-core CI machine this process can go unscheduled for seconds; a
      // handshake refused for its certificate fails at once, not by this timer.
      const timer = systemClock.setTimer(20_000, () => done('no answer in 20 s'));
    });
  }
}

/** Waits until every agent reports the rotation to `rootId` done, with every member on it. */
async function waitRotationDone(rootId: string, timeoutMs: number): Promise<void> {
  let last = '';
  await waitFor('the rotation to finish everywhere', async () => {
    const all = await Promise.all(everyone.map((a) => caStatus(a)));
    last = JSON.stringify(all[0]?.Rotation);
    return all.every((s) => s.Rotation?.Phase === 'done' && s.RootIDs.length === 1 && s.RootIDs[0] === rootId &&
      s.Members.every((m) => m['Status'] !== 'alive' || (m['LeavesUnderNewRoot'] === true && m['TrustsNewRoot'] === true)));
  }, { timeoutMs, everyMs: 500, describe: () => last });
}

async function newRootFiles(name: string): Promise<{ root: CaMaterial; cert: string; key: string }> {
  const root = await createRoot({ trustDomain: TRUST_DOMAIN, clock: systemClock });
  const p = await writeMaterial(files.dir, name, root);
  return { root, cert: p.certPath, key: p.keyPath };
}

let pair: MtlsPair;

test('setup: three servers, two clients, front on c0 and back on c1, mTLS between them', { timeout: 90_000 }, () => cluster.diagnose(async () => {
  files = await makeCaFiles(cluster);
  for (let i = 0; i < 3; i++) servers.push(cluster.add({ name: `s${i}`, ip: ip(11 + i), args: seeds, config: caConfig(files, true) }));
  for (let i = 0; i < 2; i++) clients.push(cluster.add({ name: `c${i}`, ip: ip(14 + i), args: seeds, config: caConfig(files, false) }));
  everyone = [...servers, ...clients];
  await Promise.all(everyone.map((a) => a.start()));
  await waitForViews('the cluster to converge', everyone, Object.fromEntries(everyone.map((a) => [a.name, 'alive'])), 10_000);
  await registerWithSidecar(clients[0]!, 'front', 8080);
  await registerWithSidecar(clients[1]!, 'back', 8080);
  await waitLeaf(clients[0]!, 'front');
  await waitLeaf(clients[1]!, 'back');
  pair = new MtlsPair(clients[0]!, clients[1]!);
  await pair.start();
  await waitFor('the first handshakes', () => pair.ok >= 20, { timeoutMs: 10_000 });
  assert.deepEqual(pair.failures, []);
}));

test('`shoal ca rotate` completes while mTLS connections open continuously: not one handshake fails', { timeout: 180_000 }, (t) => cluster.diagnose(async () => {
  const next = await newRootFiles('root-2');
  const okBefore = pair.ok;
  const t0 = systemClock.now();
  const dry = await servers[0]!.cli(['ca', 'rotate', '--new-root-cert', next.cert, '--new-root-key', next.key, '--old-root-key', files.rootKey, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Dry run: nothing changed/);
  assert.equal((await caStatus(servers[0]!)).Rotation, null, 'a dry run starts nothing');
  const r = await servers[0]!.cli(['ca', 'rotate', '--new-root-cert', next.cert, '--new-root-key', next.key, '--old-root-key', files.rootKey,
    '--reissue-window', '10s', '--drop-grace', '6s']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`new root: +${next.root.id}`));
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  await waitRotationDone(next.root.id, 120_000);
  const tookMs = since(t0);
  await systemClock.sleep(3000);
  const status = await servers[1]!.cli(['ca', 'status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /step 5\/5, phase done/);
  for (const a of everyone) assert.match(status.stdout, new RegExp(`${a.name} +alive +(server|client) +yes +(yes|-) +yes`), status.stdout);
  const l = (await leaf(clients[1]!, 'back')).cert!;
  const [, issuer] = splitPem(l.CertPEM);
  assert.equal(new X509Certificate(issuer!).issuer, new X509Certificate(next.root.certPem).subject, 'back is presented with the intermediate under the new root');
  assert.equal((await rootsPem(clients[0]!)).trim(), next.root.certPem.trim(), 'only the new root is left');
  for (const a of everyone) {
    const logs = a.logLines().map((x) => JSON.stringify(x)).join('\n');
    assert.doesNotMatch(logs, /PRIVATE KEY|ca-bootstrap|IntermediateKey/, `${a.name} logged no key material`);
  }
  const handshakes = pair.ok - okBefore;
  t.diagnostic(`rotation took ${tookMs} ms (reissue window 10 s, grace 6 s); ${handshakes} mTLS handshakes during it, ${pair.failures.length} failed; ${pair.refreshes} material refreshes`);
  assert.deepEqual(pair.failures, [], 'no handshake failed');
  assert.ok(handshakes > 500, `${handshakes} handshakes`);
}));

test('a manual rotation refuses unsafe steps with the reason and survives a coordinator restart', { timeout: 240_000 }, (t) => cluster.diagnose(async () => {
  const prevRoot = (await caStatus(servers[0]!)).ActiveRootID;
  const prevKey = `${files.dir}/root-2-key.pem`;
  const next = await newRootFiles('root-3');
  const s0 = servers[0]!;
  const start = await s0.cli(['ca', 'rotate', '--new-root-cert', next.cert, '--new-root-key', next.key, '--old-root-key', prevKey,
    '--manual', '--reissue-window', '25s', '--drop-grace', '3s']);
  assert.equal(start.code, 0, start.stderr);
  const refusals: string[] = [];
  // Operator requests go to the server that coordinates now (another one takes over while s0 restarts).
  const coordinator = async (): Promise<TestAgent> => {
    const name = (await caStatus(s0)).Rotation?.Coordinator;
    return servers.find((s) => s.name === name) ?? s0;
  };
  const advanceTo = async (phase: string, timeoutMs: number): Promise<void> => {
    await waitFor(`the rotation to advance to ${phase}`, async () => {
      const r = await (await coordinator()).cli(['ca', 'rotate', '--next']);
      if (r.code !== 0) refusals.push(r.stderr.trim());
      return (await caStatus(s0)).Rotation?.Phase === phase;
    }, { timeoutMs, everyMs: 300 });
  };
  await advanceTo('confirm-trust', 10_000);
  await systemClock.sleep(2000);
  assert.equal((await caStatus(s0)).Rotation?.Phase, 'confirm-trust', 'manual: no step is taken without the operator');
  await advanceTo('switch-signers', 20_000);
  await s0.restart();
  await waitForViews('the coordinator to rejoin', everyone, Object.fromEntries(everyone.map((a) => [a.name, 'alive'])), 15_000);
  const resumed = (await caStatus(s0)).Rotation;
  assert.equal(resumed?.Phase, 'switch-signers', 'the rotation survived the coordinator restart where it was');
  t.diagnostic(`after s0's restart the rotation is coordinated by ${resumed?.Coordinator} (term ${resumed?.Term})`);
  await advanceTo('reissue-leaves', 30_000);
  const early = await (await coordinator()).cli(['ca', 'rotate', '--next']);
  assert.equal(early.code, 1, 'leaving reissue-leaves before every leaf was reissued is refused');
  assert.match(early.stderr, /cannot leave phase reissue-leaves: .*leaves chain to/);
  await advanceTo('drop-old-root', 60_000);
  await advanceTo('done', 30_000);
  await waitRotationDone(next.root.id, 30_000);
  assert.notEqual(prevRoot, next.root.id);
  t.diagnostic(`refusals seen on the way: ${[...new Set(refusals.map((r) => r.replace(/[0-9a-f]{16}/g, '…')))].slice(0, 4).join(' | ')}`);
  assert.ok(refusals.some((r) => /cannot leave phase reissue-leaves/.test(r)));
  await pair.stop();
  t.diagnostic(`mTLS pair over both rotations: ${pair.ok} handshakes, ${pair.failures.length} failed`);
  assert.deepEqual(pair.failures, []);
}));
