/**
 * Integration harness: real `shoal agent` processes on loopback addresses, each with its own data
 * directory and log files, driven and observed only from the outside (HTTP API, CLI, log lines,
 * files, signals) as an operator would.
 *
 * Every process this module spawns is tracked by PID until it has exited; `Cluster.cleanup()` (call
 * it from an `after` hook) SIGKILLs whatever is left, and an exit/signal hook does the same if the
 * test process goes away without running its hooks. Agents are not detached, so a Ctrl-C in a
 * terminal reaches them too.
 *
 * Waiting is always a poll against a deadline (`waitFor`), never a fixed sleep standing in for one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { systemClock } from '../../agent/src/core/clock';
import type { MemberJson } from '../../agent/src/http';

/** The compiled CLI (this file runs from dist/e2e/integration/). */
export const SHOAL_MAIN = resolve(__dirname, '../../agent/src/cli/main.js');
/** Default HTTP API port; the API binds to the agent's loopback bind address. */
export const HTTP_PORT = 7500;
/** Default LAN gossip port (UDP and TCP). */
export const SERF_LAN_PORT = 7301;

// ---------------------------------------------------------------------------------------------
// Process tracking: nothing we start outlives the test process.
// ---------------------------------------------------------------------------------------------

const live = new Map<number, ChildProcess>();

function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const pid = child.pid;
  live.set(pid, child);
  child.once('exit', () => live.delete(pid));
}

/** SIGKILLs every tracked process still running (synchronous: usable from an exit hook). */
export function killAllTracked(): void {
  for (const [pid, child] of live) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

process.once('exit', killAllTracked);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllTracked();
    process.kill(process.pid, sig);
  });
}

/** Resolves with the exit code (or signal) once `child` has exited. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

// ---------------------------------------------------------------------------------------------
// Polling.
// ---------------------------------------------------------------------------------------------

/**
 * Polls `check` until it returns a truthy value (returned), failing after `timeoutMs`. The failure
 * names `what` and the last thing `check` said through `describe` or threw, so CI output explains.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  opts: { timeoutMs: number; everyMs?: number; describe?: () => string | Promise<string> },
): Promise<NonNullable<T>> {
  const deadline = systemClock.now() + opts.timeoutMs;
  const every = opts.everyMs ?? 100;
  let last: unknown;
  for (let i = 0; i < 1_000_000; i++) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (systemClock.now() >= deadline) break;
    await systemClock.sleep(Math.min(every, Math.max(0, deadline - systemClock.now())));
  }
  const state = opts.describe ? await Promise.resolve(opts.describe()).catch((e: unknown) => `(describe failed: ${String(e)})`) : '';
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}` +
    `${last === undefined ? '' : `; last error: ${String(last)}`}${state === '' ? '' : `; state: ${state}`}`);
}

/** Milliseconds since `t0` (a `systemClock.now()` reading), rounded, for messages. */
export function since(t0: number): number {
  return Math.round(systemClock.now() - t0);
}

// ---------------------------------------------------------------------------------------------
// HTTP.
// ---------------------------------------------------------------------------------------------

/**
 * `fetch`, retried once for a GET whose reused keep-alive connection the agent had just closed
 * (the agent's HTTP server drops idle connections after 5 s; a test process that went unscheduled
 * for a second can send on one as it closes). Go's HTTP client, which Consul's users have, does the
 * same. Other errors, and any error of a non-idempotent request, are the caller's; the error names
 * its cause (`fetch failed` alone says nothing).
 */
export async function fetchRetryingReset(url: string, init: RequestInit = {}): Promise<Response> {
  const idempotent = (init.method ?? 'GET') === 'GET';
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reset = cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'ECONNRESET' || cause?.code === 'EPIPE';
      if (idempotent && reset && attempt === 1 && init.signal?.aborted !== true) continue;
      if (cause !== undefined && err instanceof Error) err.message = `${err.message} (${cause.code ?? ''} ${cause.message ?? ''}`.trimEnd() + ')';
      throw err;
    }
  }
}

/** GET/PUT/... against an agent's API; resolves with status and body text. */
export async function http(base: string, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  const res = await fetchRetryingReset(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, text: await res.text() };
}

/** One line of an agent's JSON log. */
export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Parsed Prometheus samples: `name{labels}` (labels sorted) -> value. */
export type Samples = Map<string, number>;

/** Parses the Prometheus text format into samples keyed by name and sorted labels. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels = m[2] === undefined || m[2] === '' ? [] : [...m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => `${x[1]}="${x[2]}"`);
    out.set(labels.length === 0 ? m[1]! : `${m[1]}{${labels.sort().join(',')}}`, Number(m[3]));
  }
  return out;
}

/** The value of `name` with exactly `labels` (0 when absent). */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort();
  return samples.get(l.length === 0 ? name : `${name}{${l.join(',')}}`) ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Agents.
// ---------------------------------------------------------------------------------------------

/** How to start one agent. */
export interface AgentSpec {
  /** Node name. */
  name: string;
  /** Loopback bind address (127.0.1.x); the HTTP API listens on it too, default ports. */
  ip: string;
  /** Extra command-line arguments after `agent -node -bind -data-dir`. */
  args?: readonly string[];
  /** When set, written as JSON to `<dir>/config.json` and passed with `-config-file`. */
  config?: Record<string, unknown>;
}

/** Result of a finished CLI command. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One agent process (possibly restarted several times over the same data directory). */
export class TestAgent {
  readonly name: string;
  readonly ip: string;
  /** Root of this agent's files: data/, agent.log (stdout, JSON), agent.err (stderr), config.json. */
  readonly dir: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly stderrPath: string;
  readonly configPath: string;
  private args: readonly string[];
  private config: Record<string, unknown> | undefined;
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  /** Byte offset of agent.log where the current (or last) run began. */
  private runLogOffset = 0;
  /** How many times the process was started. */
  starts = 0;

  constructor(root: string, spec: AgentSpec) {
    this.name = spec.name;
    this.ip = spec.ip;
    this.dir = join(root, spec.name);
    this.dataDir = join(this.dir, 'data');
    this.logPath = join(this.dir, 'agent.log');
    this.stderrPath = join(this.dir, 'agent.err');
    this.configPath = join(this.dir, 'config.json');
    this.args = spec.args ?? [];
    this.config = spec.config;
    mkdirSync(this.dir, { recursive: true });
  }

  /** `http://ip:7500`. */
  get base(): string {
    return `http://${this.ip}:${HTTP_PORT}`;
  }

  /** `ip:7301`, the gossip address peers use. */
  get gossipAddr(): string {
    return `${this.ip}:${SERF_LAN_PORT}`;
  }

  /** The PID of the running process, if any. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process without waiting for it to serve (see `start`). */
  spawn(opts: { args?: readonly string[]; config?: Record<string, unknown> } = {}): void {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.child!.pid})`);
    if (opts.args !== undefined) this.args = opts.args;
    if (opts.config !== undefined) this.config = opts.config;
    const argv = [SHOAL_MAIN, 'agent', '-node', this.name, '-bind', this.ip, '-data-dir', this.dataDir];
    if (this.config !== undefined) {
      writeFileSync(this.configPath, `${JSON.stringify(this.config, null, 2)}\n`);
      argv.push('-config-file', this.configPath);
    }
    argv.push(...this.args);
    this.runLogOffset = fileSize(this.logPath);
    const out = openSync(this.logPath, 'a');
    const err = openSync(this.stderrPath, 'a');
    try {
      this.child = spawn(process.execPath, argv, { stdio: ['ignore', out, err], env: childEnv() });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    track(this.child);
    this.exit = exited(this.child);
    this.starts++;
  }

  /** Starts the process and waits until its HTTP API answers (fails early if it exits). */
  async start(opts: { args?: readonly string[]; config?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<void> {
    await this.assertAddressFree();
    this.spawn(opts);
    await this.waitReady(opts.timeoutMs ?? 20_000);
  }

  /**
   * Fails fast when something already serves this agent's address: the suite uses fixed addresses
   * and default ports, so two runs on one host collide, and an agent of the other run must never be
   * mistaken for ours.
   */
  private async assertAddressFree(): Promise<void> {
    const answered = await http(this.base, 'GET', '/v1/agent/self', undefined, 500).then(() => true, () => false);
    if (answered) {
      throw new Error(`${this.base} already serves an agent before ${this.name} started: is another run of the integration suite ` +
        `(or a leftover agent) using ${this.ip} on this host?`);
    }
  }

  /**
   * Polls `/v1/agent/self` until our process answers: 200, and the node ID it reports is the one in
   * our data directory. Throws with stderr if the process exits first.
   */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const child = this.child;
    await waitFor(`${this.name} (${this.ip}) to serve its HTTP API`, async () => {
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited (code ${child?.exitCode}, signal ${child?.signalCode}); stderr: ${this.stderr().slice(-2000)}`);
      }
      const r = await http(this.base, 'GET', '/v1/agent/self', undefined, 1_000);
      if (r.status !== 200) return false;
      const nodeId = (JSON.parse(r.text) as { Config?: { NodeID?: string } }).Config?.NodeID;
      // The agent writes node-id before serving HTTP, unless node_id is configured (then no file).
      const file = join(this.dataDir, 'node-id');
      const ours = existsSync(file) ? readFileSync(file, 'utf8').trim() : nodeId;
      if (nodeId !== ours) throw new Error(`${this.base} is served by node ID ${nodeId}, not ours (${ours}): another agent holds the address`);
      return true;
    }, { timeoutMs, everyMs: 50 });
  }

  /** Resolves with how the current process ended. */
  async waitExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit === undefined) throw new Error(`${this.name} was never started`);
    const exit = this.exit;
    let result: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void exit.then((r) => (result = r));
    await waitFor(`${this.name} (pid ${this.child?.pid}) to exit`, () => result !== undefined, { timeoutMs, everyMs: 20 });
    return result!;
  }

  /** `kill -9`: no leave, no cleanup; resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.child!.pid!, 'SIGKILL');
    } catch {
      // it exited on its own an instant ago; its 'exit' event is on the way
    }
    await this.waitExit();
  }

  /** SIGTERM: graceful leave then exit; resolves with the exit status. */
  async terminate(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.waitExit();
    process.kill(this.child!.pid!, 'SIGTERM');
    return this.waitExit(timeoutMs);
  }

  /** Graceful stop then start again over the same data directory and address. */
  async restart(opts: { args?: readonly string[]; config?: Record<string, unknown> } = {}): Promise<void> {
    const r = await this.terminate();
    if (r.code !== 0) throw new Error(`${this.name} exited with ${r.code ?? r.signal} on SIGTERM; stderr: ${this.stderr().slice(-2000)}`);
    await this.start(opts);
  }

  /** `/v1/agent/members` (LAN). */
  async members(): Promise<MemberJson[]> {
    const r = await http(this.base, 'GET', '/v1/agent/members', undefined, 2_000);
    if (r.status !== 200) throw new Error(`${this.name}: GET /v1/agent/members -> ${r.status} ${r.text.slice(0, 200)}`);
    return JSON.parse(r.text) as MemberJson[];
  }

  /** `/v1/agent/self`, parsed. */
  async self(): Promise<{ Config: Record<string, unknown>; Stats: Record<string, Record<string, string>> }> {
    const r = await http(this.base, 'GET', '/v1/agent/self', undefined, 2_000);
    if (r.status !== 200) throw new Error(`${this.name}: GET /v1/agent/self -> ${r.status}`);
    return JSON.parse(r.text) as { Config: Record<string, unknown>; Stats: Record<string, Record<string, string>> };
  }

  /** `/metrics`, parsed. */
  async metrics(): Promise<Samples> {
    const r = await http(this.base, 'GET', '/metrics', undefined, 5_000);
    if (r.status !== 200) throw new Error(`${this.name}: GET /metrics -> ${r.status}`);
    return parseMetrics(r.text);
  }

  /** JSON log lines, of every run or (`currentRun`) only of the current/last one. */
  logLines(opts: { currentRun?: boolean } = {}): LogLine[] {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return [];
    }
    if (opts.currentRun === true) text = Buffer.from(text).subarray(this.runLogOffset).toString('utf8');
    const out: LogLine[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        out.push({ level: 'raw', msg: line });
      }
    }
    return out;
  }

  /** Everything written to stderr so far. */
  stderr(): string {
    try {
      return readFileSync(this.stderrPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Runs `shoal <args> -http-addr <this agent>`. */
  cli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
    return runShoal([...args, '-http-addr', `${this.ip}:${HTTP_PORT}`], timeoutMs);
  }

  /** The last `n` log lines and stderr, for failure messages. */
  tail(n = 15): string {
    // Access-log lines (one per proxied connection) would bury everything else: the last n other
    // lines, then the last 3 access lines.
    const all = this.logLines();
    const isAccess = (l: LogLine): boolean => l['msg'] === 'access';
    const lines = [...all.filter((l) => !isAccess(l)).slice(-n), ...all.filter(isAccess).slice(-3)].map((l) => JSON.stringify(l));
    const err = this.stderr().trim();
    return `--- ${this.name} (${this.ip}, ${this.running ? `pid ${this.child?.pid}` : 'not running'}) ---\n${lines.join('\n')}` +
      (err === '' ? '' : `\nstderr: ${err.slice(-1000)}`);
  }
}

/** Runs the `shoal` CLI with `args`; kills it after `timeoutMs`. */
export async function runShoal(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  const child = spawn(process.execPath, [SHOAL_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close' (unlike 'exit') comes after both pipes are drained.
  const closed = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  const timer = systemClock.setTimer(timeoutMs, () => child.kill('SIGKILL'));
  try {
    const code = await closed;
    return { code, stdout, stderr };
  } finally {
    systemClock.clearTimer(timer);
  }
}

/** The test's environment without SHOAL_HTTP_ADDR, so only explicit -http-addr flags count. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['SHOAL_HTTP_ADDR'];
  return env;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** A set of agents sharing one temporary directory. */
export class Cluster {
  readonly root: string;
  readonly agents: TestAgent[] = [];

  constructor(label: string) {
    this.root = mkdtempSync(join(tmpdir(), `shoal-it-${label}-`));
  }

  /** Declares an agent (not started). */
  add(spec: AgentSpec): TestAgent {
    if (this.agents.some((a) => a.name === spec.name)) throw new Error(`duplicate agent name ${spec.name}`);
    const a = new TestAgent(this.root, spec);
    this.agents.push(a);
    return a;
  }

  /** Log tails of every agent, for failure messages. */
  tails(n = 10): string {
    return this.agents.map((a) => a.tail(n)).join('\n');
  }

  /** Kills every agent still running and removes the directory (kept with SHOAL_IT_KEEP=1). */
  async cleanup(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.kill9().catch(() => {})));
    killAllTracked();
    if (process.env['SHOAL_IT_KEEP'] === '1') {
      process.stderr.write(`integration files kept in ${this.root}\n`);
    } else {
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  /** Runs `fn`; on failure appends every agent's log tail to the error. */
  async diagnose<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error) err.message += `\n${this.tails()}`;
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Membership views.
// ---------------------------------------------------------------------------------------------

/** Each observer's view: observer name -> member name -> State. */
export type Views = Map<string, Map<string, string>>;

/** Reads every observer's member list (an unreachable observer maps to an empty view). */
export async function views(observers: readonly TestAgent[]): Promise<Views> {
  const out: Views = new Map();
  await Promise.all(observers.map(async (o) => {
    try {
      out.set(o.name, new Map((await o.members()).map((m) => [m.Name, m.State])));
    } catch {
      out.set(o.name, new Map());
    }
  }));
  return out;
}

/** Renders views compactly: `a: {a=alive b=dead}; ...`. */
export function renderViews(v: Views): string {
  return [...v].map(([o, ms]) => `${o}: {${[...ms].map(([n, s]) => `${n}=${s}`).join(' ')}}`).join('; ');
}

/** The (observer, member) pairs where an observer does not see `expect` (member -> State). */
export function viewMismatches(v: Views, expect: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const [observer, ms] of v) {
    for (const [name, state] of Object.entries(expect)) {
      if (ms.get(name) !== state) out.push(`${observer} sees ${name} ${ms.get(name) ?? 'unknown'}`);
    }
  }
  return out;
}

/** True when every observer sees exactly `expect` (member -> State) for the listed members. */
export function viewsAgree(v: Views, expect: Readonly<Record<string, string>>): boolean {
  return v.size > 0 && viewMismatches(v, expect).length === 0;
}

/** Waits until every observer reports `expect` for the listed members; resolves with the time taken. */
export async function waitForViews(
  what: string, observers: readonly TestAgent[], expect: Readonly<Record<string, string>>, timeoutMs: number,
): Promise<number> {
  const t0 = systemClock.now();
  let last: Views = new Map();
  await waitFor(what, async () => viewsAgree((last = await views(observers)), expect), {
    timeoutMs, everyMs: 50, describe: () => renderViews(last),
  });
  return since(t0);
}

/**
 * Gossip's two delivery paths, checked separately. A piggybacked broadcast reaches every member with
 * high probability, not certainty: with memberlist's LAN defaults (each update sent 4 times at N <= 9)
 * one member misses an update in a few percent of cases at N = 7, and anti-entropy (push-pull and
 * reconnect, both every 30 s) repairs it. So: within `fastMs` every observer but at most one pair
 * must agree (dissemination works), and within `allMs` all must (anti-entropy works). Resolves with
 * both times and the pairs that needed the slow path.
 */
export async function waitForConvergence(
  what: string, observers: readonly TestAgent[], expect: Readonly<Record<string, string>>, fastMs: number, allMs: number,
): Promise<{ fastMs: number; allMs: number; stragglers: string[] }> {
  const t0 = systemClock.now();
  let last: Views = new Map();
  const describe = (): string => renderViews(last);
  await waitFor(`${what} (every observer)`, async () =>
    (last = await views(observers)).size > 0 && viewMismatches(last, expect).length === 0, { timeoutMs: fastMs, everyMs: 50, describe });
  const fast = since(t0);
  const stragglers = viewMismatches(last, expect);
  await waitFor(`${what} (every observer)`, async () => viewsAgree((last = await views(observers)), expect),
    { timeoutMs: Math.max(0, allMs - fast), everyMs: 100, describe });
  return { fastMs: fast, allMs: since(t0), stragglers };
}

/** One observation of a member in a state the watcher was told to flag. */
export interface Sighting {
  observer: string;
  member: string;
  state: string;
  atMs: number;
}

/**
 * Polls every observer's member list every `everyMs` in the background and records each time a
 * member is seen in one of `flag` states (say suspect or dead). Bounded by `maxMs`; `stop()` ends
 * it and returns the sightings and how many polls ran.
 */
export function watchMembers(
  observers: () => readonly TestAgent[],
  opts: { flag: readonly string[]; members?: readonly string[]; everyMs?: number; maxMs?: number },
): { stop: () => Promise<{ sightings: Sighting[]; polls: number }> } {
  const t0 = systemClock.now();
  const every = opts.everyMs ?? 200;
  const maxMs = opts.maxMs ?? 300_000;
  const sightings: Sighting[] = [];
  let polls = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && systemClock.now() - t0 < maxMs) {
      const v = await views(observers());
      polls++;
      for (const [observer, ms] of v) {
        for (const [member, state] of ms) {
          if (opts.flag.includes(state) && (opts.members === undefined || opts.members.includes(member))) {
            sightings.push({ observer, member, state, atMs: since(t0) });
          }
        }
      }
      await systemClock.sleep(every);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { sightings, polls };
    },
  };
}

/** Summarises sightings for an assertion message. */
export function renderSightings(s: readonly Sighting[], max = 20): string {
  return s.slice(0, max).map((x) => `${x.observer} saw ${x.member} ${x.state} at +${x.atMs} ms`).join('; ') +
    (s.length > max ? `; and ${s.length - max} more` : '');
}
