/**
 * `npm run bench:ca`: how many leaf certificates one CA server signs per second, end to end.
 *
 * One CaServer runs in its own process (pinned to CPU 1 with `taskset -c 1` when taskset exists and
 * the machine has two CPUs or more; the load generator is then pinned to CPU 0), on 127.0.0.1 with a
 * real LeafSigner and rate limiting off. Clients authenticate with an agent certificate (mTLS) and ask
 * for service leaves. CSRs are generated before any timed loop. Prints:
 *   - throughput (CSRs/s) at several concurrencies, with the server's CPU use over each phase, so a
 *     client-bound figure is visible as such;
 *   - p50 / p99 latency at 16 concurrent requests;
 *   - in the same run, the bare costs: LeafSigner.sign without gRPC (CSR checks included), signing an
 *     already-checked CSR, the CSR checks alone, and the raw ECDSA P-256 signature of a leaf TBS;
 *   - Consul's default limit, 50 CSRs/s per server (csr_max_per_second), beside ours, and the ratio.
 * Every phase is bounded in requests and seconds. A benchmark: it prints figures, it asserts nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, sign as rawSign } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { systemClock } from '../../agent/src/core/clock';
import { noopLogger } from '../../agent/src/core/logger';
import {
  CaGrpcClient, CaServer, createCsr, createIntermediate, createRoot, exportKeyPem, generateKeyPair, inspectCsr, LeafSigner,
  type CaMaterial, type Identity, type SignAuth,
} from '../../ca/src';

const TD = 'bench.shoal';
const DC = 'dc1';
const CLIENT_NODE = 'bench-client';
/** Consul's default `csr_max_per_second` per server. */
const CONSUL_CSR_PER_SEC = 50;

interface Args {
  requests: number;
  latencyRequests: number;
  concurrency: number[];
  seconds: number;
  csrs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { requests: 6000, latencyRequests: 3000, concurrency: [16, 64, 256], seconds: 20, csrs: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (v === undefined) continue;
    if (argv[i] === '--requests') a.requests = Number(v);
    else if (argv[i] === '--latency-requests') a.latencyRequests = Number(v);
    else if (argv[i] === '--concurrency') a.concurrency = v.split(',').map(Number);
    else if (argv[i] === '--seconds') a.seconds = Number(v);
    else if (argv[i] === '--csrs') a.csrs = Number(v);
  }
  return a;
}

/** What the parent sends the server process. */
interface ServeMessage {
  kind: 'serve';
  intermediate: CaMaterial;
  rootId: string;
  tls: { certPem: string; keyPem: string; caPems: string[] };
}
type ToServer = ServeMessage | { kind: 'cpu' } | { kind: 'stop' };
type FromServer = { kind: 'listening'; port: number } | { kind: 'cpu'; userUs: number; systemUs: number };

// ---- server process ----

function serve(): void {
  let server: CaServer | undefined;
  process.on('message', (m: ToServer) => {
    void (async () => {
      if (m.kind === 'serve') {
        const signer = new LeafSigner({ intermediate: m.intermediate, chainPem: [m.intermediate.certPem], rootId: m.rootId, clock: systemClock });
        server = new CaServer({
          host: '127.0.0.1', port: 0, tls: m.tls, signer, trustDomain: TD, datacenter: DC, bootstrapToken: undefined,
          authorize: (node) => node === CLIENT_NODE,
          rateLimit: { ratePerSec: 0, burst: 1 }, // off: the bench measures the signer, not the limiter
          clock: systemClock, logger: noopLogger,
        });
        send({ kind: 'listening', port: await server.start() });
      } else if (m.kind === 'cpu') {
        const u = process.cpuUsage();
        send({ kind: 'cpu', userUs: u.user, systemUs: u.system });
      } else {
        await server?.stop(500);
        process.exit(0);
      }
    })();
  });
  // The parent going away must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
}

function send(m: FromServer): void {
  process.send?.(m);
}

// ---- load generator ----

class ServerProcess {
  private readonly waiters: Array<(m: FromServer) => void> = [];

  constructor(readonly child: ChildProcess, readonly pinned: boolean) {
    child.on('message', (m: FromServer) => this.waiters.shift()?.(m));
  }

  request(m: ToServer): Promise<FromServer> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.child.send(m);
    });
  }

  async cpuSeconds(): Promise<number> {
    const r = (await this.request({ kind: 'cpu' })) as Extract<FromServer, { kind: 'cpu' }>;
    return (r.userUs + r.systemUs) / 1e6;
  }
}

function canPin(): boolean {
  return availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
}

function startServerProcess(): ServerProcess {
  const pin = canPin();
  const node = [process.execPath, __filename, '--serve'];
  const child = pin
    ? spawn('taskset', ['-c', '1', ...node], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // All threads of this process (event loop, libuv pool) on the other CPU.
  if (pin) spawnSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  return new ServerProcess(child, pin);
}

async function leaf(signer: LeafSigner, id: Identity): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const res = await signer.sign(await createCsr({ identity: id, keys }), id);
  return { certPem: res.certPem + res.chainPem.join(''), keyPem: await exportKeyPem(keys.privateKey) };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs `total` requests with `concurrency` in flight (closed loop), stopping early after `seconds`. */
async function closedLoop(
  concurrency: number, total: number, seconds: number, one: (i: number) => Promise<void>,
): Promise<{ done: number; failed: number; elapsedMs: number; latenciesMs: number[] }> {
  const start = systemClock.now();
  const deadline = start + seconds * 1000;
  const latenciesMs: number[] = [];
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < total && systemClock.now() < deadline) {
      const i = next++;
      const t0 = systemClock.now();
      try {
        await one(i);
        latenciesMs.push(systemClock.now() - t0);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { done: latenciesMs.length, failed, elapsedMs: systemClock.now() - start, latenciesMs };
}

/**
 * Mean cost of `fn` in microseconds: wall time, and CPU time of this process. On a shared machine
 * the wall figure includes waiting for the CPU; the CPU figure does not (`fn` runs on this thread).
 */
async function timeEach(n: number, fn: () => unknown): Promise<{ wallUs: number; cpuUs: number }> {
  for (let i = 0; i < Math.min(200, n); i++) await fn();
  const t0 = systemClock.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const c = process.cpuUsage(c0);
  return { wallUs: ((systemClock.now() - t0) / n) * 1000, cpuUs: (c.user + c.system) / n };
}

const fmtCost = (t: { wallUs: number; cpuUs: number }): string => `${t.cpuUs.toFixed(0).padStart(5)} us CPU (${t.wallUs.toFixed(0)} us wall)`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const clock = systemClock;
  const root = await createRoot({ trustDomain: TD, clock });
  const intermediate = await createIntermediate({ root, datacenter: DC, trustDomain: TD, clock });
  const localSigner = new LeafSigner({ intermediate, chainPem: [intermediate.certPem], rootId: root.id, clock });
  const caPems = [root.certPem, intermediate.certPem];
  const serverLeaf = await leaf(localSigner, { kind: 'agent', trustDomain: TD, datacenter: DC, node: 'bench-server' });
  const clientLeaf = await leaf(localSigner, { kind: 'agent', trustDomain: TD, datacenter: DC, node: CLIENT_NODE });

  const cpus = availableParallelism(); // before pinning narrows this process's affinity
  const proc = startServerProcess();
  const cleanup = (): void => {
    if (proc.child.exitCode === null) proc.child.kill();
  };
  process.on('exit', cleanup);
  try {
    const ready = (await proc.request({ kind: 'serve', intermediate, rootId: root.id, tls: { ...serverLeaf, caPems } })) as Extract<FromServer, { kind: 'listening' }>;
    const addr = `127.0.0.1:${ready.port}`;
    console.log(`Shoal CA bench: CaServer on ${addr} in its own process, ${proc.pinned ? 'pinned to CPU 1 (taskset -c 1); load generator on CPU 0' : 'NOT pinned (taskset or a second CPU unavailable)'}`);
    console.log(`  ${cpus} CPUs, Node ${process.version}; mTLS clients (agent certificate), service leaves, rate limiting off`);

    const svc: Identity = { kind: 'service', trustDomain: TD, namespace: 'default', datacenter: DC, service: 'web' };
    const t0 = clock.now();
    const csrs: string[] = [];
    for (let i = 0; i < args.csrs; i++) csrs.push(await createCsr({ identity: svc, keys: await generateKeyPair() }));
    console.log(`  pre-generated ${csrs.length} CSRs (distinct P-256 keys) in ${((clock.now() - t0) / 1000).toFixed(1)} s, outside every timed loop`);

    const client = new CaGrpcClient({ clock });
    const auth: SignAuth = { caPems, trustDomain: TD, datacenter: DC, clientCertPem: clientLeaf.certPem, clientKeyPem: clientLeaf.keyPem };
    const one = async (i: number): Promise<void> => {
      await client.sign(addr, { csrPem: csrs[i % csrs.length]! }, auth, 10_000);
    };
    await closedLoop(16, 500, 10, one); // warm-up: connection, JIT

    console.log('\nThroughput (closed loop, end to end over gRPC + TLS):');
    let best = 0;
    let bestServerUs = Number.POSITIVE_INFINITY;
    for (const c of args.concurrency) {
      const cpu0 = await proc.cpuSeconds();
      const own0 = process.cpuUsage();
      const r = await closedLoop(c, args.requests, args.seconds, one);
      const own = process.cpuUsage(own0);
      const cpu1 = await proc.cpuSeconds();
      const rate = r.done / (r.elapsedMs / 1000);
      best = Math.max(best, rate);
      const secs = r.elapsedMs / 1000;
      const util = ((cpu1 - cpu0) / secs) * 100;
      const clientUtil = ((own.user + own.system) / 1e6 / secs) * 100;
      const serverUs = ((cpu1 - cpu0) * 1e6) / Math.max(1, r.done);
      bestServerUs = Math.min(bestServerUs, serverUs);
      console.log(`  concurrency ${String(c).padStart(3)}: ${rate.toFixed(0).padStart(6)} CSRs/s  (${r.done} signed${r.failed ? `, ${r.failed} FAILED` : ''} in ${secs.toFixed(2)} s; server CPU ${util.toFixed(0)}% of one core, ${serverUs.toFixed(0)} us per CSR; client CPU ${clientUtil.toFixed(0)}%)`);
    }

    const lat = await closedLoop(16, args.latencyRequests, args.seconds, one);
    const sorted = [...lat.latenciesMs].sort((a, b) => a - b);
    console.log(`\nLatency at 16 concurrent requests (${lat.done} requests${lat.failed ? `, ${lat.failed} FAILED` : ''}): p50 ${quantile(sorted, 0.5).toFixed(2)} ms, p99 ${quantile(sorted, 0.99).toFixed(2)} ms, max ${sorted[sorted.length - 1]!.toFixed(2)} ms`);
    client.close();

    // Bare costs, same run, in this process (CPU 0 when pinned).
    const n = 3000;
    const signUs = await timeEach(n, () => localSigner.sign(csrs[0]!, svc));
    const inspected = inspectCsr(csrs[0]!);
    const signInspectedUs = await timeEach(n, () => localSigner.signInspected(inspected));
    const inspectUs = await timeEach(n, () => inspectCsr(csrs[0]!));
    const key = createPrivateKey(intermediate.keyPem);
    const tbs = Buffer.alloc(420, 0x5a); // a Shoal leaf's TBS is about 420 bytes
    const rawUs = await timeEach(n, () => rawSign('sha256', tbs, { key, dsaEncoding: 'der' }));
    console.log(`\nBare cost of one signature (no gRPC, no TLS), mean of ${n}, in the load generator's process:`);
    console.log(`  LeafSigner.sign (CSR checks + leaf):        ${fmtCost(signUs)}  -> ${(1e6 / signUs.cpuUs).toFixed(0)} /s per core`);
    console.log(`  LeafSigner.signInspected (leaf only):       ${fmtCost(signInspectedUs)}`);
    console.log(`  inspectCsr (parse, checks, ECDSA verify):   ${fmtCost(inspectUs)}`);
    console.log(`  raw ECDSA P-256 sign of a 420-byte TBS:     ${fmtCost(rawUs)}`);
    console.log(`  so gRPC + TLS + HTTP/2 + JSON add about ${Math.max(0, bestServerUs - signUs.cpuUs).toFixed(0)} us of server CPU per CSR`);

    console.log('\nAgainst Consul:');
    console.log(`  Consul default csr_max_per_second per server: ${CONSUL_CSR_PER_SEC} CSRs/s`);
    console.log(`  Shoal, best end-to-end throughput above:      ${best.toFixed(0)} CSRs/s  (x${(best / CONSUL_CSR_PER_SEC).toFixed(0)})`);
    const projected = 1e6 / bestServerUs;
    console.log(`  Shoal, one fully used core (1 s / server CPU per CSR): ${projected.toFixed(0)} CSRs/s  (x${(projected / CONSUL_CSR_PER_SEC).toFixed(0)})`);
    const load = loadavg()[0]!;
    if (load > cpus * 0.75) console.log(`  NOTE: load average ${load.toFixed(1)} on ${cpus} CPUs during the run: other processes shared these CPUs, so the measured rates are low; the per-CSR CPU figures are the steadier ones.`);
    console.log('  (Consul\'s figure is a default rate limit, not a measured capacity; the ratio says how much headroom that limit leaves here.)');
    await proc.request({ kind: 'stop' }).catch(() => undefined);
  } finally {
    cleanup();
  }
}

if (process.argv.includes('--serve')) {
  serve();
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
