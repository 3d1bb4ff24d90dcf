/**
 * `npm run bench:proxy`: what Shoal's data plane costs beside haproxy doing the same mTLS hop.
 *
 * One small Node HTTP app (its own process, 200 with a short body) is reached four ways:
 *   - direct:  wrk -> app;
 *   - haproxy: wrk -> haproxy A (plain, mode tcp) -> mTLS -> haproxy B (mode tcp) -> app, Debian's
 *     haproxy, one thread each (`nbthread 1`), certificates from the same CA library Shoal uses;
 *   - node-tcp: wrk -> relay A -> relay B -> app, two Node processes that only accept, connect and
 *     pipe (no TLS, no multiplexing): the floor of any L4 proxy pair written in Node, so what Shoal
 *     adds on top of Node's own per-connection cost shows in the same run;
 *   - shoal:   wrk -> agent A's upstream listener -> mTLS -> agent B's inbound listener -> app, two real
 *     `shoal agent` processes (A a server holding the intermediate, B a client).
 * For each repeat, each scenario (wrk with 16 and 64 keep-alive connections, and a new connection per
 * request) runs the paths one after the other, so slow drifts on a shared machine hit all alike. Printed: requests/s, p50 and p99 latency, the proxy pair's CPU time (per run and per
 * request) and peak RSS, and the ratios Shoal/haproxy and Shoal/direct; then a table of medians.
 *
 * With two CPUs or more, wrk runs on CPU 0 and the app and all proxies on the others (`taskset`), so
 * the load generator does not take CPU from what it measures; `--no-pin` turns that off.
 * Everything listens on 127.0.10.x. Every wait is bounded; every process started here is killed and
 * the temporary directory removed at the end, on error and on Ctrl-C. A benchmark: it prints figures,
 * it asserts nothing.
 *
 *   npm run bench:proxy -- [--duration 10] [--repeat 3] [--scenarios keepalive-16,keepalive-64,close-16]
 *                          [--paths direct,haproxy,node-tcp,shoal] [--warmup 2] [--shoal-wait 60] [--no-pin]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  cpuSeconds, httpGet, killAllSync, logTail, peakRssMiB, pollUntil, processTree, resetPeakRss, running, start, stop, tcpOpen, type Proc,
} from './proxy-bench-procs';
import { systemClock } from '../../agent/src/core/clock';
import { ADDR, agentConfigs, haproxyConfigs, makePki, PORT } from './proxy-bench-setup';
import { parseScenario, runWrk, type Scenario, type WrkResult } from './proxy-bench-wrk';

const PATHS = ['direct', 'haproxy', 'node-tcp', 'shoal'] as const;
type PathName = (typeof PATHS)[number];

/** The compiled CLI (this file runs from dist/e2e/bench/). */
const SHOAL_MAIN = resolve(__dirname, '../../agent/src/cli/main.js');

interface Args {
  durationS: number;
  repeat: number;
  scenarios: Scenario[];
  paths: PathName[];
  warmupS: number;
  shoalWaitS: number;
  pin: boolean;
}

/** `10`, `10s` or `1m` in seconds. */
function seconds(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(v);
  if (m === null) throw new Error(`expected a duration in seconds (10, 10s, 1m), got ${JSON.stringify(v)}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    durationS: 10, repeat: 3, scenarios: ['keepalive-16', 'keepalive-64', 'close-16'].map((s) => parseScenario(s)!),
    paths: [...PATHS], warmupS: 2, shoalWaitS: 60, pin: true,
  };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--no-pin') {
      a.pin = false;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) {
      problems.push(`${flag}: missing value`);
      continue;
    }
    try {
      if (flag === '--duration') a.durationS = Math.max(1, Math.round(seconds(v)));
      else if (flag === '--warmup') a.warmupS = Math.round(seconds(v));
      else if (flag === '--shoal-wait') a.shoalWaitS = seconds(v);
      else if (flag === '--repeat') a.repeat = Math.max(1, Math.min(100, Math.floor(Number(v)) || 1));
      else if (flag === '--scenarios') {
        a.scenarios = v.split(',').map((s) => {
          const sc = parseScenario(s.trim());
          if (sc === undefined) throw new Error(`unknown scenario ${JSON.stringify(s)} (keepalive-<connections> or close-<connections>)`);
          return sc;
        });
      } else if (flag === '--paths') {
        a.paths = v.split(',').map((p) => {
          if (!(PATHS as readonly string[]).includes(p)) throw new Error(`unknown path ${JSON.stringify(p)} (${PATHS.join(', ')})`);
          return p as PathName;
        });
      } else problems.push(`unknown option ${flag}`);
    } catch (err) {
      problems.push(`${flag}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`bench:proxy: ${problems.join('; ')}`);
  return a;
}

// ---- the app ----

/** The upstream app: 200 with a short body, keep-alive honoured, run as `proxy-bench.js --app host port`. */
function serveApp(host: string, port: number): void {
  const body = Buffer.from('hello from bench-app\n');
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  // Idle keep-alive connections stay open across a whole run (wrk keeps them busy anyway).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.listen(port, host, () => console.log(`app listening on ${host}:${port}`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

/** The node-tcp baseline: accepts on host:port and pipes each connection to target, both ways. */
function serveRelay(host: string, port: number, targetHost: string, targetPort: number): void {
  const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const up = netConnect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true });
    const cut = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', cut);
    up.on('error', cut);
    client.pipe(up);
    up.pipe(client);
  });
  server.listen(port, host, () => console.log(`relay listening on ${host}:${port} -> ${targetHost}:${targetPort}`));
  process.on('SIGTERM', () => process.exit(0));
}

// ---- tools ----

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Installs Debian's haproxy and wrk when missing (`apt-get`, as root). */
function ensureTools(): void {
  const missing = ['haproxy', 'wrk'].filter((c) => !have(c));
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')} (apt-get)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
  spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env, timeout: 600_000 });
}

function versionLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? '?';
}

// ---- the three paths ----

interface Target {
  path: PathName;
  host: string;
  port: number;
  /** Proxy processes whose CPU and memory are measured (none for direct). */
  proxies: Proc[];
  /** Why this path is not measured, when it is not. */
  unavailable: string | undefined;
  /** Seconds from start until the path first answered 200 (Shoal: agents' start to first end-to-end answer). */
  readyAfterS?: number;
}

async function startApp(dir: string, cpus: string | undefined): Promise<Proc> {
  const app = start('app', process.execPath, [__filename, '--app', ADDR.app, String(PORT.app)], { cpus, logPath: join(dir, 'app.log') });
  const up = await pollUntil(async () => (await httpGet(ADDR.app, PORT.app, '/')).status === 200, 10_000, 100);
  if (!up.ok) throw new Error(`the app on ${ADDR.app}:${PORT.app} did not answer within 10 s (${up.lastError}): ${logTail(app)}`);
  return app;
}

async function startHaproxy(dir: string, pki: Awaited<ReturnType<typeof makePki>>, cpus: string | undefined): Promise<Target> {
  const t: Target = { path: 'haproxy', host: ADDR.haproxyA, port: PORT.haproxyA, proxies: [], unavailable: undefined };
  if (!have('haproxy')) {
    t.unavailable = 'haproxy is not installed (apt-get install haproxy failed)';
    return t;
  }
  const cfg = haproxyConfigs(pki);
  const files = { a: join(dir, 'haproxy-a.cfg'), b: join(dir, 'haproxy-b.cfg') };
  writeFileSync(files.a, cfg.a);
  writeFileSync(files.b, cfg.b);
  for (const [name, file] of [['haproxy-b', files.b], ['haproxy-a', files.a]] as const) {
    const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8', timeout: 10_000 });
    if (check.status !== 0) {
      t.unavailable = `${name} configuration refused: ${check.stdout}${check.stderr}`.trim();
      return t;
    }
    // -db: foreground, no daemon, no master process: the PID is the one process that proxies.
    t.proxies.push(start(name, 'haproxy', ['-db', '-f', file], { cpus, logPath: join(dir, `${name}.log`) }));
  }
  const up = await pollUntil(async () => {
    for (const p of t.proxies) if (!running(p)) throw new Error(`${p.name} exited`);
    return (await httpGet(t.host, t.port, '/')).status === 200;
  }, 10_000, 100);
  if (!up.ok) {
    t.unavailable = `haproxy A (${t.host}:${t.port}) did not answer HTTP 200 through haproxy B within 10 s (${up.lastError}); ` +
      `haproxy-a: ${logTail(t.proxies[1]!, 400)} haproxy-b: ${logTail(t.proxies[0]!, 400)}`;
  }
  return t;
}

/** Starts the two Node relays of the node-tcp baseline (B first: A connects to it). */
async function startRelays(dir: string, cpus: string | undefined): Promise<Target> {
  const t: Target = { path: 'node-tcp', host: ADDR.relayA, port: PORT.relayA, proxies: [], unavailable: undefined };
  t.proxies.push(start('relay-b', process.execPath, [__filename, '--relay', ADDR.relayB, String(PORT.relayB), ADDR.app, String(PORT.app)], { cpus, logPath: join(dir, 'relay-b.log') }));
  t.proxies.push(start('relay-a', process.execPath, [__filename, '--relay', ADDR.relayA, String(PORT.relayA), ADDR.relayB, String(PORT.relayB)], { cpus, logPath: join(dir, 'relay-a.log') }));
  const up = await pollUntil(async () => {
    for (const p of t.proxies) if (!running(p)) throw new Error(`${p.name} exited`);
    return (await httpGet(t.host, t.port, '/')).status === 200;
  }, 10_000, 100);
  if (!up.ok) t.unavailable = `relay A (${t.host}:${t.port}) did not answer HTTP 200 through relay B within 10 s (${up.lastError})`;
  return t;
}

/** Starts the two agents; waiting for them is `waitShoal`, so haproxy can start meanwhile. */
function startAgents(dir: string, pki: Awaited<ReturnType<typeof makePki>>, cpus: string | undefined): { a: Proc; b: Proc } {
  const cfg = agentConfigs(pki);
  const spawnAgent = (name: string, ip: string, config: Record<string, unknown>, extra: string[]): Proc => {
    const home = join(dir, name);
    mkdirSync(join(home, 'data'), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const argv = [SHOAL_MAIN, 'agent', '-node', name, '-bind', ip, '-data-dir', join(home, 'data'), '-config-file', join(home, 'config.json'), ...extra];
    return start(name, process.execPath, argv, { cpus, logPath: join(home, 'agent.log') });
  };
  const a = spawnAgent('bench-a', ADDR.agentA, cfg.a, []);
  const b = spawnAgent('bench-b', ADDR.agentB, cfg.b, ['-retry-join', ADDR.agentA]);
  return { a, b };
}

/** Waits until the upstream listener answers 200 end to end; otherwise says which part did not answer. */
async function waitShoal(agents: { a: Proc; b: Proc }, timeoutS: number): Promise<Target> {
  const t: Target = { path: 'shoal', host: ADDR.agentA, port: PORT.upstream, proxies: [agents.a, agents.b], unavailable: undefined };
  const t0 = systemClock.now();
  const up = await pollUntil(async () => {
    for (const p of [agents.a, agents.b]) if (!running(p)) throw new Error(`agent ${p.name} exited: ${logTail(p, 800)}`);
    return (await httpGet(t.host, t.port, '/')).status === 200;
  }, timeoutS * 1000, 250);
  if (!up.ok) t.unavailable = await diagnoseShoal(agents, timeoutS, up.lastError);
  else t.readyAfterS = (systemClock.now() - t0) / 1000;
  return t;
}

/** GET a JSON array from an agent's API. */
async function jsonRows(ip: string, path: string): Promise<Array<Record<string, unknown>>> {
  const r = await httpGet(ip, PORT.agentHttp, path, 3_000);
  if (r.status !== 200) throw new Error(`${path} -> ${r.status}`);
  return JSON.parse(r.body) as Array<Record<string, unknown>>;
}

async function diagnoseShoal(agents: { a: Proc; b: Proc }, timeoutS: number, lastError: string): Promise<string> {
  const said = (p: Promise<{ status: number; body: string }>): Promise<string> =>
    p.then((r) => `${r.status}${r.status === 200 ? '' : ` ${r.body.slice(0, 160).trim()}`}`, (e: unknown) => `no answer (${(e as Error).message})`);
  const lines = [`the Shoal path did not answer HTTP 200 within ${timeoutS} s.`,
    `    upstream listener ${ADDR.agentA}:${PORT.upstream} (agent A): ${(await tcpOpen(ADDR.agentA, PORT.upstream)) ? 'accepts TCP' : 'DOES NOT accept TCP'}; ` +
    `last GET: ${lastError === '' ? 'answered, not 200' : lastError}`,
    `    inbound listener ${ADDR.agentB}:${PORT.sidecarB} (agent B, bench-app sidecar): ${(await tcpOpen(ADDR.agentB, PORT.sidecarB)) ? 'accepts TCP' : 'DOES NOT accept TCP'}`];
  for (const [label, p, ip] of [['A', agents.a, ADDR.agentA], ['B', agents.b, ADDR.agentB]] as const) {
    if (!running(p)) {
      lines.push(`    agent ${label} (${p.name}) EXITED: ${logTail(p, 600)}`);
      continue;
    }
    const metrics = await httpGet(ip, PORT.agentHttp, '/metrics', 3_000).then((r) => r.body, () => '');
    const proxyMetrics = metrics.split('\n').filter((l) => l.startsWith('shoal_proxy_')).length;
    const alive = await jsonRows(ip, '/v1/agent/members').then((m) => `${m.filter((x) => x['State'] === 'alive').length} alive`, (e: unknown) => (e as Error).message);
    const sidecars = await jsonRows(ip, '/v1/health/connect/bench-app').then((m) => `${m.length}`, (e: unknown) => (e as Error).message);
    lines.push(`    agent ${label} (${p.name}, ${ip}): HTTP API ${await said(httpGet(ip, PORT.agentHttp, '/v1/agent/self'))}; members: ${alive}; ` +
      `bench-app sidecars in its catalog (/v1/health/connect/bench-app): ${sidecars}; ${proxyMetrics} shoal_proxy_* samples on /metrics`);
  }
  lines.push(`    agent B leaf for bench-app: ${await said(httpGet(ADDR.agentB, PORT.agentHttp, '/v1/agent/connect/ca/leaf/bench-app', 5_000))}`.slice(0, 300));
  for (const p of [agents.a, agents.b]) {
    const tail = logTail(p, 600).split('\n').slice(-3).join('\n      ');
    if (tail !== '') lines.push(`    ${p.name} log tail:\n      ${tail}`);
  }
  return lines.join('\n');
}

// ---- measuring ----

interface Run {
  repeat: number;
  scenario: string;
  path: PathName;
  wrk: WrkResult;
  /** CPU seconds of the proxy pair over the run (undefined for direct). */
  proxyCpuS: number | undefined;
  /** Sum of the pair's per-process peak RSS during the run, MiB. */
  proxyRssMiB: number | undefined;
  /** The same sum at the start of the run (peaks reset to current RSS), MiB. */
  proxyRssStartMiB: number | undefined;
  appCpuS: number;
}

async function measure(t: Target, s: Scenario, durationS: number, repeat: number, app: Proc, wrkCpus: string | undefined): Promise<Run | string> {
  const pids = t.proxies.flatMap((p) => processTree(p.pid));
  // After the reset VmHWM is the current RSS: the run's starting point.
  const reset = resetPeakRss(pids);
  const rss0 = peakRssMiB(pids);
  const cpu0 = cpuSeconds(pids);
  const app0 = cpuSeconds([app.pid]);
  const { result, output } = await runWrk(`http://${t.host}:${t.port}/`, s, durationS, wrkCpus);
  const appCpuS = cpuSeconds([app.pid]) - app0;
  if (result === undefined) return `wrk gave no summary: ${output.trim().slice(-400)}`;
  const proxied = t.proxies.length > 0;
  return {
    repeat, scenario: s.name, path: t.path, wrk: result, appCpuS,
    proxyCpuS: proxied ? cpuSeconds(pids) - cpu0 : undefined,
    proxyRssMiB: proxied ? peakRssMiB(pids) : undefined,
    proxyRssStartMiB: proxied && reset ? rss0 : undefined,
  };
}

const f0 = (n: number): string => n.toFixed(0);
const ms = (n: number): string => (n < 1 ? `${(n * 1000).toFixed(0)} us` : `${n.toFixed(2)} ms`);
const ratio = (a: number, b: number): string => (b > 0 && Number.isFinite(a) ? `x${(a / b).toFixed(2)}` : '-');

function runLine(r: Run): string {
  const w = r.wrk;
  let s = `  [${r.repeat}] ${r.scenario.padEnd(13)} ${r.path.padEnd(8)} ${f0(w.requestsPerSec).padStart(7)} req/s  p50 ${ms(w.p50Ms).padStart(9)}  p99 ${ms(w.p99Ms).padStart(9)}`;
  if (r.proxyCpuS !== undefined) {
    s += `  | pair CPU ${r.proxyCpuS.toFixed(2)} s (${f0((r.proxyCpuS * 1e6) / Math.max(1, w.requests))} us/req), peak RSS ${r.proxyRssMiB!.toFixed(1)} MiB` +
      (r.proxyRssStartMiB === undefined ? ' (since start)' : ` (${r.proxyRssStartMiB.toFixed(1)} at run start)`);
  }
  s += `  | app CPU ${r.appCpuS.toFixed(2)} s`;
  if (w.socketErrors !== undefined) s += `  | socket errors: ${w.socketErrors}`;
  if (w.non2xx > 0) s += `  | ${w.non2xx} non-2xx`;
  return s;
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerReq: number;
  cpuS: number;
  rss: number;
  n: number;
}

function summarize(runs: Run[]): Summary | undefined {
  if (runs.length === 0) return undefined;
  const proxied = runs.filter((r) => r.proxyCpuS !== undefined);
  return {
    rps: median(runs.map((r) => r.wrk.requestsPerSec)),
    p50: median(runs.map((r) => r.wrk.p50Ms)),
    p99: median(runs.map((r) => r.wrk.p99Ms)),
    cpuS: median(proxied.map((r) => r.proxyCpuS!)),
    cpuUsPerReq: median(proxied.map((r) => (r.proxyCpuS! * 1e6) / Math.max(1, r.wrk.requests))),
    rss: median(proxied.map((r) => r.proxyRssMiB!)),
    n: runs.length,
  };
}

function printTable(args: Args, runs: Run[], targets: Map<PathName, Target>): void {
  console.log(`\nMedians (${args.repeat} run${args.repeat > 1 ? 's' : ''} of ${args.durationS} s each; proxy columns are the pair: two haproxy processes, two Node relays, or two agents)`);
  console.log(`  ${'scenario'.padEnd(13)} ${'path'.padEnd(8)} ${'req/s'.padStart(7)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'CPU s'.padStart(6)} ${'us/req'.padStart(7)} ${'peak RSS'.padStart(10)}`);
  for (const s of args.scenarios) {
    const by = new Map<PathName, Summary | undefined>(args.paths.map((p) => [p, summarize(runs.filter((r) => r.scenario === s.name && r.path === p))]));
    for (const p of args.paths) {
      const m = by.get(p);
      if (m === undefined) {
        console.log(`  ${s.name.padEnd(13)} ${p.padEnd(8)} ${targets.get(p)?.unavailable !== undefined ? 'not measured (see above)' : 'no successful run'}`);
        continue;
      }
      const proxy = Number.isNaN(m.cpuS) ? `${'-'.padStart(6)} ${'-'.padStart(7)} ${'-'.padStart(10)}`
        : `${m.cpuS.toFixed(2).padStart(6)} ${f0(m.cpuUsPerReq).padStart(7)} ${`${m.rss.toFixed(1)} MiB`.padStart(10)}`;
      console.log(`  ${s.name.padEnd(13)} ${p.padEnd(8)} ${f0(m.rps).padStart(7)} ${ms(m.p50).padStart(9)} ${ms(m.p99).padStart(9)} ${proxy}`);
    }
    const sh = by.get('shoal');
    const ha = by.get('haproxy');
    const di = by.get('direct');
    if (sh !== undefined && ha !== undefined) {
      console.log(`  ${''.padEnd(13)} Shoal/haproxy: req/s ${ratio(sh.rps, ha.rps)}, p50 ${ratio(sh.p50, ha.p50)}, p99 ${ratio(sh.p99, ha.p99)}, ` +
        `CPU per request ${ratio(sh.cpuUsPerReq, ha.cpuUsPerReq)}, peak RSS ${ratio(sh.rss, ha.rss)}`);
    }
    if (sh !== undefined && di !== undefined) {
      console.log(`  ${''.padEnd(13)} Shoal/direct:  req/s ${ratio(sh.rps, di.rps)}, p50 ${ratio(sh.p50, di.p50)}, p99 ${ratio(sh.p99, di.p99)}`);
    }
    if (ha !== undefined && di !== undefined) {
      console.log(`  ${''.padEnd(13)} haproxy/direct: req/s ${ratio(ha.rps, di.rps)}, p50 ${ratio(ha.p50, di.p50)}, p99 ${ratio(ha.p99, di.p99)}`);
    }
    const nt = by.get('node-tcp');
    if (sh !== undefined && nt !== undefined) {
      console.log(`  ${''.padEnd(13)} Shoal/node-tcp: req/s ${ratio(sh.rps, nt.rps)}, CPU per request ${ratio(sh.cpuUsPerReq, nt.cpuUsPerReq)} ` +
        '(node-tcp: the same two hops with no TLS and no multiplexing)');
    }
  }
}

/** `shoal_proxy_*_total` counters of one agent, summed per name and per outcome/resumed/kind label. */
async function proxyCounters(ip: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await httpGet(ip, PORT.agentHttp, '/metrics', 5_000).then((r) => r.body, () => '');
  for (const line of text.split('\n')) {
    const m = /^(shoal_proxy_[a-z0-9_]+_total)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const kept = [...(m[2] ?? '').matchAll(/(outcome|resumed|kind)="([^"]*)"/g)].map((x) => `${x[1]}="${x[2]}"`);
    const key = kept.length === 0 ? m[1]! : `${m[1]}{${kept.join(',')}}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

/** Prints the counters that moved; returns the mTLS handshakes among them (undefined: no such metric). */
function printCounterDeltas(name: string, before: Map<string, number>, after: Map<string, number>): number | undefined {
  const deltas = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, d]) => d !== 0);
  console.log(`  ${name}:${deltas.length === 0 ? ' no shoal_proxy_*_total counter moved' : ''}`);
  for (const [k, d] of deltas.slice(0, 12)) console.log(`    ${k} +${d}`);
  if (![...after.keys()].some((k) => k.startsWith('shoal_proxy_tunnel_handshakes_total'))) return undefined;
  return deltas.filter(([k]) => k.startsWith('shoal_proxy_tunnel_handshakes_total')).reduce((sum, [, d]) => sum + d, 0);
}

// ---- main ----

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cpus = availableParallelism();
  const pin = args.pin && cpus >= 2 && have('taskset');
  const wrkCpus = pin ? '0' : undefined;
  const serverCpus = pin ? (cpus === 2 ? '1' : `1-${cpus - 1}`) : undefined;
  ensureTools();
  if (!have('wrk')) throw new Error('wrk is not installed and apt-get install wrk failed');

  const dir = mkdtempSync(join(tmpdir(), 'shoal-proxy-bench-'));
  const cleanupSync = (): void => {
    killAllSync();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping every process this benchmark started`);
      cleanupSync();
      process.exit(130);
    });
  }

  const taken: string[] = [];
  const listens: Array<[string, number]> = [[ADDR.app, PORT.app], [ADDR.haproxyA, PORT.haproxyA], [ADDR.haproxyB, PORT.haproxyB],
    [ADDR.relayA, PORT.relayA], [ADDR.relayB, PORT.relayB],
    [ADDR.agentA, PORT.agentHttp], [ADDR.agentB, PORT.agentHttp], [ADDR.agentA, PORT.upstream], [ADDR.agentB, PORT.sidecarB]];
  for (const [h, p] of listens) if (await tcpOpen(h, p, 500)) taken.push(`${h}:${p}`);
  if (taken.length > 0) throw new Error(`already in use: ${taken.join(', ')}. Is another bench:proxy run (or a leftover process) using 127.0.10.x?`);

  const pki = await makePki(join(dir, 'pki'));
  const app = await startApp(dir, serverCpus);
  const agents = args.paths.includes('shoal') ? startAgents(dir, pki, serverCpus) : undefined;
  const targets = new Map<PathName, Target>();
  targets.set('direct', { path: 'direct', host: ADDR.app, port: PORT.app, proxies: [], unavailable: undefined });
  if (args.paths.includes('haproxy')) targets.set('haproxy', await startHaproxy(dir, pki, serverCpus));
  if (args.paths.includes('node-tcp')) targets.set('node-tcp', await startRelays(dir, serverCpus));
  if (agents !== undefined) targets.set('shoal', await waitShoal(agents, args.shoalWaitS));

  console.log('Shoal proxy bench: one Node HTTP app reached directly, through a haproxy pair, through two bare Node TCP relays, and through two Shoal agents (mTLS hop in between)');
  console.log(`  ${cpus} CPUs, Node ${process.version}, ${versionLine('haproxy', ['-v'])}, ${versionLine('wrk', ['-v'])}`);
  console.log(`  ${pin ? `wrk (-t1) pinned to CPU 0; app, haproxy and agents pinned to CPU ${serverCpus}` : 'NOT pinned: wrk, app and proxies share every CPU'}`);
  console.log('  haproxy: mode tcp, nbthread 1 per instance (Shoal runs its data plane in one worker thread per agent), TLS 1.3, ECDSA P-256 leaves');
  console.log('    from the Shoal CA library, verify required both ways; it checks the chain, not the SPIFFE ID. No access logs on either side.');
  console.log(`  ${args.repeat} repeat(s) x ${args.scenarios.map((s) => s.name).join(', ')} x ${args.paths.join(', ')}, ${args.durationS} s each, interleaved; ` +
    'close-N = a new connection per request (wrk -H "Connection: close")');
  const shoal = targets.get('shoal');
  if (shoal?.readyAfterS !== undefined) {
    console.log(`  Shoal path answered end to end ${shoal.readyAfterS.toFixed(1)} s after the agents were started (leaves, gossip, listeners)`);
  }
  for (const t of targets.values()) if (t.unavailable !== undefined) console.log(`\nERROR (${t.path} path, skipped): ${t.unavailable}`);

  const active = args.paths.map((p) => targets.get(p)!).filter((t) => t.unavailable === undefined);
  if (args.warmupS > 0) {
    for (const t of active) await runWrk(`http://${t.host}:${t.port}/`, args.scenarios[0]!, args.warmupS, wrkCpus);
  }
  const before = agents !== undefined && targets.get('shoal')?.unavailable === undefined
    ? await Promise.all([proxyCounters(ADDR.agentA), proxyCounters(ADDR.agentB)]) : undefined;

  console.log('\nRuns:');
  const runs: Run[] = [];
  for (let r = 1; r <= args.repeat; r++) {
    for (const s of args.scenarios) {
      for (const t of active) {
        if (t.proxies.some((p) => !running(p))) {
          console.log(`  [${r}] ${s.name.padEnd(13)} ${t.path.padEnd(8)} SKIPPED: ${t.proxies.filter((p) => !running(p)).map((p) => `${p.name} exited: ${logTail(p, 300)}`).join('; ')}`);
          continue;
        }
        const res = await measure(t, s, args.durationS, r, app, wrkCpus);
        if (typeof res === 'string') console.log(`  [${r}] ${s.name.padEnd(13)} ${t.path.padEnd(8)} FAILED: ${res}`);
        else {
          runs.push(res);
          console.log(runLine(res));
        }
      }
    }
  }

  printTable(args, runs, targets);
  if (before !== undefined) {
    console.log('\nShoal data-plane counters over the measured runs (from /metrics):');
    const handshakes = printCounterDeltas('agent A (client side)', before[0], await proxyCounters(ADDR.agentA));
    printCounterDeltas('agent B (server side)', before[1], await proxyCounters(ADDR.agentB));
    if (args.scenarios.some((s) => s.close)) {
      console.log(`  close-N: haproxy (mode tcp) makes one TLS connection to its peer per client connection; Shoal carries client connections as\n` +
        `  streams of HTTP/2 tunnels between the agents` + (handshakes === undefined ? ' (no shoal_proxy_tunnel_handshakes_total metric to count its handshakes).'
          : ` and made ${handshakes} mTLS handshake(s) during the measured runs (tunnels opened at warm-up are reused).`));
    }
  }
  const load = loadavg()[0]!;
  if (load > cpus * 0.75) {
    console.log(`\nNOTE: load average ${load.toFixed(1)} on ${cpus} CPUs: other processes shared these CPUs; CPU per request is steadier than req/s.`);
  }

  const stopping = [...(agents === undefined ? [] : [agents.a, agents.b]), ...(targets.get('haproxy')?.proxies ?? []), ...(targets.get('node-tcp')?.proxies ?? []), app];
  await Promise.all(stopping.map((p) => stop(p)));
}

if (process.argv[2] === '--app') {
  serveApp(process.argv[3]!, Number(process.argv[4]));
} else if (process.argv[2] === '--relay') {
  serveRelay(process.argv[3]!, Number(process.argv[4]), process.argv[5]!, Number(process.argv[6]));
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
