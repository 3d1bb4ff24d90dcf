/**
 * A throwaway multi-host network on one Linux machine, for end-to-end tests that need real packet
 * loss and partitions between real agent processes. Needs root, iproute2 and iptables.
 *
 * Layout (nothing is created in the root namespace, so the host's own network is never touched):
 *
 *   shoal-<suite>-sw     the "switch": bridge br0 with 10.231.0.2/24, one veth port h<i> per host,
 *                        and the observer process (observer.ts) that relays the test's HTTP queries
 *   shoal-<suite>-h<i>   one per host: eth0 (the other end of h<i>) with 10.231.0.(10+i)/24, lo up
 *
 * The subnet exists only inside these namespaces. Faults are iptables rules inside a host namespace
 * (`iptables -m statistic --mode random` for loss, `-s ADDR -j DROP` for partitions); `tc netem` is
 * not available on these machines. Everything is tagged with the suite name: `cleanupLeftovers`
 * removes what a crashed earlier run of the same suite left (its namespaces, the processes still
 * running inside them, its temporary directories), and `destroy` removes what this run made. Deleting
 * a namespace removes its veths, bridge and iptables rules with it; a process inside keeps the
 * namespace alive, which is why processes are killed first.
 *
 * Two suites may run at the same time if they use different suite names and subnets.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { systemClock } from '../../agent/src/core/clock';

const execFileP = promisify(execFile);

/** Deadline for one `ip`/`iptables` command, ms: they take milliseconds; a hang is a broken host. */
const COMMAND_TIMEOUT_MS = 15_000;
/** How long a killed process may take to be reaped before we give up waiting, ms. */
const EXIT_WAIT_MS = 5_000;

/** The compiled agent CLI, relative to this file's compiled location (dist/e2e/netns/). */
export const AGENT_CLI = join(__dirname, '..', '..', 'agent', 'src', 'cli', 'main.js');
const OBSERVER_JS = join(__dirname, 'observer.js');

/** Absolute path of an executable on PATH (plus the sbin folders root's PATH usually has), or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why the namespace suites cannot run on this machine, or undefined when they can. */
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veths, iptables)';
  if (findTool('ip') === undefined) return '`ip` not found (apt-get install iproute2)';
  if (findTool('iptables') === undefined) return '`iptables` not found (apt-get install iptables)';
  if (!existsExecutable(AGENT_CLI)) return `agent CLI not built at ${AGENT_CLI} (npm run build)`;
  return undefined;
}

function existsExecutable(p: string): boolean {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** One host of the test network. */
export interface NetnsHost {
  index: number;
  /** Namespace name. */
  ns: string;
  /** Its address on the test subnet. */
  addr: string;
}

/** Options of TestNetwork.create. */
export interface NetworkOptions {
  /** Short suite name, [a-z0-9]{1,8}: tags namespaces and temporary directories. */
  suite: string;
  /** Number of host namespaces. */
  hosts: number;
  /** First three octets of the /24 to use (default 10.231.0); must be inside 10.231.0.0/16. */
  subnet?: string;
}

/** A process started inside a namespace. */
export interface NetnsProcess {
  readonly ns: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<string>;
  /** Where its stdout and stderr went (empty for piped processes). */
  readonly logFile: string;
}

/** One parsed row of `iptables -L CHAIN -v -n -x`. */
export interface RuleCounter {
  pkts: number;
  bytes: number;
  /** The whole row (target, protocol, addresses, matches and the `/* comment *\/` that names it). */
  text: string;
}

/** A reply relayed by the observer. */
export interface HttpReply {
  status: number;
  body: string;
}

/** The network: namespaces, bridge, processes inside, and the observer that queries them. */
export class TestNetwork {
  readonly hosts: NetnsHost[];
  readonly switchNs: string;
  /** Address of the switch namespace on the bridge (the observer's source address). */
  readonly switchAddr: string;
  /** Temporary directory for data dirs, config files and logs. */
  readonly workDir: string;
  private readonly ip: string;
  private readonly iptablesPath: string;
  private readonly processes = new Set<NetnsProcess>();
  private observer: { proc: NetnsProcess; pending: Map<number, (r: HttpReply | Error) => void>; nextId: number } | undefined;

  private constructor(readonly suite: string, hostCount: number, subnet: string) {
    this.ip = findTool('ip')!;
    this.iptablesPath = findTool('iptables')!;
    this.switchNs = `shoal-${suite}-sw`;
    this.switchAddr = `${subnet}.2`;
    this.hosts = Array.from({ length: hostCount }, (_, i) => ({ index: i, ns: `shoal-${suite}-h${i}`, addr: `${subnet}.${10 + i}` }));
    this.workDir = mkdtempSync(join(tmpdir(), workDirPrefix(suite)));
  }

  /** Cleans up leftovers of the same suite, then builds the switch, the hosts and the observer. */
  static async create(opts: NetworkOptions): Promise<TestNetwork> {
    const subnet = opts.subnet ?? '10.231.0';
    if (!/^[a-z0-9]{1,8}$/.test(opts.suite)) throw new Error(`suite name ${opts.suite}: expected 1-8 of [a-z0-9]`);
    if (!/^10\.231\.\d{1,3}$/.test(subnet)) throw new Error(`subnet ${subnet}: expected 10.231.N (a private test range)`);
    if (opts.hosts < 1 || opts.hosts > 200) throw new Error(`hosts ${opts.hosts}: expected 1 to 200`);
    await cleanupLeftovers(opts.suite);
    const net = new TestNetwork(opts.suite, opts.hosts, subnet);
    try {
      await net.build();
      await net.startObserver();
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private async build(): Promise<void> {
    const sw = this.switchNs;
    await this.run([this.ip, 'netns', 'add', sw]);
    await this.run([this.ip, '-n', sw, 'link', 'set', 'lo', 'up']);
    await this.run([this.ip, '-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await this.run([this.ip, '-n', sw, 'addr', 'add', `${this.switchAddr}/24`, 'dev', 'br0']);
    await this.run([this.ip, '-n', sw, 'link', 'set', 'br0', 'up']);
    for (const h of this.hosts) {
      const port = `h${h.index}`;
      await this.run([this.ip, 'netns', 'add', h.ns]);
      // Both ends are created inside namespaces: the root namespace never holds a test interface.
      await this.run([this.ip, '-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      await this.run([this.ip, '-n', sw, 'link', 'set', port, 'master', 'br0']);
      await this.run([this.ip, '-n', sw, 'link', 'set', port, 'up']);
      await this.run([this.ip, '-n', h.ns, 'link', 'set', 'lo', 'up']);
      await this.run([this.ip, '-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0']);
      await this.run([this.ip, '-n', h.ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  /** Runs a command inside a namespace (`ip netns exec NS ...`); rejects with its stderr on failure. */
  async exec(ns: string, argv: readonly string[]): Promise<string> {
    return this.run([this.ip, 'netns', 'exec', ns, ...argv]);
  }

  /** Runs `iptables -w ARGS` inside a namespace. */
  async iptables(ns: string, args: readonly string[]): Promise<string> {
    return this.exec(ns, [this.iptablesPath, '-w', '5', ...args]);
  }

  /** Appends a rule to `chain` in `ns`, tagged with `comment` so its counters can be found again. */
  async addRule(ns: string, chain: 'INPUT' | 'OUTPUT', spec: readonly string[], comment: string): Promise<void> {
    await this.iptables(ns, ['-A', chain, ...spec, '-m', 'comment', '--comment', comment]);
  }

  /** Removes every rule of the filter table in `ns` (only this harness adds rules there). */
  async flushRules(ns: string): Promise<void> {
    await this.iptables(ns, ['-F']);
  }

  /** Reads a chain's rules with exact packet and byte counters (`iptables -L CHAIN -v -n -x`). */
  async counters(ns: string, chain: 'INPUT' | 'OUTPUT'): Promise<RuleCounter[]> {
    const out = await this.iptables(ns, ['-L', chain, '-v', '-n', '-x']);
    const rows: RuleCounter[] = [];
    // Two header lines, then one row per rule starting with its packet and byte counters.
    for (const line of out.split('\n').slice(2)) {
      const m = /^\s*(\d+)\s+(\d+)\s/.exec(line);
      if (m !== null) rows.push({ pkts: Number(m[1]), bytes: Number(m[2]), text: line.trim() });
    }
    return rows;
  }

  /**
   * Spawns `node ARGS` inside a namespace with stdout and stderr appended to `logFile`. `ip netns
   * exec` execs the command, so the pid is node's own and a signal reaches the process itself.
   */
  spawnNode(ns: string, args: readonly string[], logFile: string): NetnsProcess {
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.ip, ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    return this.track(ns, child, logFile);
  }

  private track(ns: string, child: ChildProcess, logFile: string): NetnsProcess {
    if (child.pid === undefined) throw new Error(`could not start a process in ${ns}`);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
      child.once('error', (err) => resolve(`error ${err.message}`));
    });
    const proc: NetnsProcess = { ns, pid: child.pid, child, exited, logFile };
    this.processes.add(proc);
    void exited.then(() => this.processes.delete(proc));
    return proc;
  }

  /** Sends `signal` to a process this network started and waits (bounded) until it is gone. */
  async kill(proc: NetnsProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<string> {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
    return within(proc.exited, EXIT_WAIT_MS, `pid ${proc.pid} in ${proc.ns} to exit after ${signal}`);
  }

  /** GET through the observer in the switch namespace. Rejects on a network error or timeout. */
  async get(url: string, timeoutMs = 2_000): Promise<HttpReply> {
    const obs = this.observer;
    if (obs === undefined) throw new Error('observer not running');
    const id = obs.nextId++;
    const answer = new Promise<HttpReply | Error>((resolve) => obs.pending.set(id, resolve));
    obs.proc.child.stdin!.write(`${JSON.stringify({ id, url, timeoutMs })}\n`);
    // The observer enforces timeoutMs itself; the outer bound only guards against a wedged observer.
    const r = await within(answer, timeoutMs + 5_000, `observer answer for ${url}`);
    if (r instanceof Error) throw r;
    return r;
  }

  private async startObserver(): Promise<void> {
    const logFile = join(this.workDir, 'observer.log');
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.ip, ['netns', 'exec', this.switchNs, process.execPath, OBSERVER_JS], { stdio: ['pipe', 'pipe', fd] });
    } finally {
      closeSync(fd);
    }
    const proc = this.track(this.switchNs, child, logFile);
    const pending = new Map<number, (r: HttpReply | Error) => void>();
    this.observer = { proc, pending, nextId: 1 };
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => { ready = resolve; });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { id: number; ready?: boolean; status?: number; body?: string; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.ready === true) return ready();
      const resolve = pending.get(msg.id);
      pending.delete(msg.id);
      resolve?.(msg.error !== undefined ? new Error(msg.error) : { status: msg.status!, body: msg.body! });
    });
    void proc.exited.then((how) => {
      for (const resolve of pending.values()) resolve(new Error(`observer exited (${how})`));
      pending.clear();
    });
    await within(Promise.race([isReady, proc.exited.then((how) => { throw new Error(`observer exited at start (${how}): ${tail(logFile, 20)}`); })]),
      15_000, 'the observer to start');
  }

  /** Kills every process this network started, deletes the namespaces and the work directory. */
  async destroy(): Promise<void> {
    this.observer?.proc.child.stdin?.end();
    await Promise.all([...this.processes].map((p) => this.kill(p).catch(() => undefined)));
    await removeNamespaces([this.switchNs, ...this.hosts.map((h) => h.ns)], this.ip);
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private async run(argv: readonly string[]): Promise<string> {
    return runCommand(argv);
  }
}

function workDirPrefix(suite: string): string {
  return `shoal-netns-${suite}-`;
}

async function runCommand(argv: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(argv[0]!, argv.slice(1), { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/**
 * Removes what a crashed earlier run of `suite` left: processes still running inside its namespaces
 * (killed by pid, as listed by `ip netns pids`), the namespaces, and its temporary directories.
 */
export async function cleanupLeftovers(suite: string): Promise<void> {
  const ip = findTool('ip');
  if (ip === undefined) return;
  const listed = await runCommand([ip, 'netns', 'list']);
  const prefix = `shoal-${suite}-`;
  const ours = listed.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
  if (ours.length > 0) {
    console.log(`[netns] removing ${ours.length} namespaces left by an earlier run: ${ours.join(', ')}`);
    await removeNamespaces(ours, ip);
  }
  for (const name of readdirSync(tmpdir())) {
    if (name.startsWith(workDirPrefix(suite))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

async function removeNamespaces(names: readonly string[], ip: string): Promise<void> {
  const present = new Set((await runCommand([ip, 'netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!));
  for (const ns of names) {
    if (!present.has(ns)) continue;
    // Bounded: a process that survives SIGKILL for 5 s is a kernel problem, not ours to loop on.
    for (let attempt = 0; attempt < 50; attempt++) {
      const pids = (await runCommand([ip, 'netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter((p) => /^\d+$/.test(p));
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await systemClock.sleep(100);
    }
    await runCommand([ip, 'netns', 'delete', ns]).catch((err: unknown) => console.log(`[netns] ${(err as Error).message}`));
  }
}

/** Resolves like `p`, or rejects naming `what` after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer;
  const timeout = new Promise<never>((_, reject) => {
    timer = systemClock.setTimer(ms, () => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)));
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    systemClock.clearTimer(timer);
  }
}

/** The last `lines` lines of a file ('' when unreadable), for failure messages. */
export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

// ---- agents ----

/** A Shoal agent running in one host namespace. */
export interface AgentHandle {
  name: string;
  host: NetnsHost;
  dataDir: string;
  proc: NetnsProcess;
  /** Base URL of its HTTP API, e.g. http://10.231.0.10:7500 */
  api: string;
}

/** Options of startAgent. */
export interface AgentStartOptions {
  /** Gossip seeds (`-retry-join`), `ip` or `ip:port`. */
  retryJoin?: readonly string[];
  /** Written to a JSON config file passed with `-config-file` (e.g. `{ gossip_lan: { ... } }`). */
  config?: Record<string, unknown>;
}

/**
 * Starts `shoal agent` in host `index`'s namespace: gossip and the HTTP API bound to the namespace's
 * address (default ports 7301 and 7500), data in `<workDir>/<name>` (kept across restarts of the same
 * name), JSON logs in `<workDir>/<name>.log`. Resolves once the HTTP API answers.
 */
export async function startAgent(net: TestNetwork, index: number, name: string, opts: AgentStartOptions = {}): Promise<AgentHandle> {
  const host = net.hosts[index];
  if (host === undefined) throw new Error(`no host ${index}`);
  const dataDir = join(net.workDir, name);
  const configFile = join(net.workDir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify(opts.config ?? {}));
  const args = [
    AGENT_CLI, 'agent', '-node', name, '-bind', host.addr, '-client', host.addr, '-data-dir', dataDir,
    '-config-file', configFile, '-log-level', 'info',
    ...(opts.retryJoin ?? []).flatMap((s) => ['-retry-join', s]),
  ];
  const logFile = join(net.workDir, `${name}.log`);
  const proc = net.spawnNode(host.ns, args, logFile);
  const agent: AgentHandle = { name, host, dataDir, proc, api: `http://${host.addr}:7500` };
  const deadline = systemClock.now() + 20_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`agent ${name} exited at start:\n${tail(logFile, 30)}`);
    }
    const ok = await net.get(`${agent.api}/v1/agent/self`, 1_000).then((r) => r.status === 200, () => false);
    if (ok) return agent;
    if (systemClock.now() > deadline) break;
    await systemClock.sleep(100);
  }
  throw new Error(`agent ${name} did not answer on ${agent.api} within 20 s:\n${tail(logFile, 30)}`);
}

/** One member as `/v1/agent/members` reports it (the fields the scenarios use). */
export interface MemberView {
  Name: string;
  Addr: string;
  Status: number;
  State: string;
}

/** `/v1/agent/members` of one agent. */
export async function members(net: TestNetwork, agent: AgentHandle, timeoutMs = 2_000): Promise<MemberView[]> {
  const r = await net.get(`${agent.api}/v1/agent/members`, timeoutMs);
  if (r.status !== 200) throw new Error(`${agent.name} /v1/agent/members: HTTP ${r.status}`);
  return JSON.parse(r.body) as MemberView[];
}

/** Sum of every sample of `name` in a Prometheus text exposition whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const set = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** `/metrics` of one agent. */
export async function scrape(net: TestNetwork, agent: AgentHandle): Promise<string> {
  const r = await net.get(`${agent.api}/metrics`, 5_000);
  if (r.status !== 200) throw new Error(`${agent.name} /metrics: HTTP ${r.status}`);
  return r.body;
}

/** Counts log lines of an agent whose `msg` starts with `prefix` (logs are JSON lines). */
export function countLogLines(agent: AgentHandle, prefix: string): number {
  let n = 0;
  let text = '';
  try {
    text = readFileSync(agent.proc.logFile, 'utf8');
  } catch {
    return 0;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const msg = (JSON.parse(line) as { msg?: unknown }).msg;
      if (typeof msg === 'string' && msg.startsWith(prefix)) n++;
    } catch {
      // not a log record
    }
  }
  return n;
}
