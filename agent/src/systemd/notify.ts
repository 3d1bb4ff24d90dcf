/**
 * The sd_notify protocol for `Type=notify` units: READY=1 when the agent really serves, STATUS= lines
 * with member and service counts, WATCHDOG=1 keep-alives, RELOADING=1/READY=1 around reloads and
 * STOPPING=1 before leaving the cluster. Without NOTIFY_SOCKET (not started by systemd) nothing is
 * created and nothing is sent.
 *
 * Readiness: the agent is ready once it started (configuration loaded, listeners open, start_join
 * done) and every pool with retry_join has finished its first attempt. A first attempt that failed
 * does not hold readiness back, because retry_join may legitimately wait minutes for its seeds and
 * systemd would otherwise kill the agent at TimeoutStartSec; the STATUS line then says that
 * retry_join is still trying, and changes once it joined.
 *
 * Watchdog: WATCHDOG=1 every WATCHDOG_USEC/2 from a timer on the main event loop, so a loop blocked
 * for longer than WatchdogSec makes systemd restart the agent. Honours WATCHDOG_PID like
 * sd_watchdog_enabled(): the keep-alives are for the process that systemd started, not its children.
 */
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { AgentLifecycle, AgentStatusSource, PoolName } from './lifecycle';
import { SystemdNotifySender, type NotifySender } from './notify-sender';

/** What systemd put in the environment for us. */
export interface NotifyEnv {
  /** NOTIFY_SOCKET: `/path` or `@abstract`. */
  socket: string;
  /** Watchdog timeout in microseconds (WATCHDOG_USEC), when the watchdog is on and meant for us. */
  watchdogUsec?: number;
}

/** Environment variables of the protocol; removed from the agent's environment once read. */
const NOTIFY_VARS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/**
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then deletes them from `env` (as
 * sd_notify(unset_environment=1) does) so that processes the agent starts later, such as health
 * check scripts, do not talk to systemd on its behalf. Undefined when NOTIFY_SOCKET is unset or
 * empty. `problems` receives what was set but unusable.
 */
export function takeNotifyEnv(env: NodeJS.ProcessEnv, pid: number, problems: string[] = []): NotifyEnv | undefined {
  const socket = env['NOTIFY_SOCKET'] ?? '';
  const usecText = env['WATCHDOG_USEC'];
  const pidText = env['WATCHDOG_PID'];
  for (const name of NOTIFY_VARS) delete env[name];
  if (socket === '') return undefined;
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    problems.push(`NOTIFY_SOCKET=${socket}: expected a path or an @abstract socket name; not notifying systemd`);
    return undefined;
  }
  const result: NotifyEnv = { socket };
  if (usecText === undefined || usecText === '') return result;
  const usec = /^\d{1,15}$/.test(usecText) ? Number(usecText) : 0;
  if (usec <= 0) {
    problems.push(`WATCHDOG_USEC=${usecText}: expected a positive number of microseconds; watchdog off`);
    return result;
  }
  if (pidText !== undefined && pidText !== '' && pidText !== String(pid)) return result;
  result.watchdogUsec = usec;
  return result;
}

/** CLOCK_MONOTONIC in microseconds, what MONOTONIC_USEC= carries (libuv's hrtime reads CLOCK_MONOTONIC). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** Member counts of one pool for STATUS. */
function poolCounts(members: readonly { readonly state: string }[]): string {
  const alive = members.filter((m) => m.state === 'alive').length;
  return `${alive} alive of ${members.length}`;
}

/**
 * The STATUS= text: `ready; LAN members: 3 alive of 3; services: 0`, or with retry_join still trying,
 * `retry_join: no seed answered yet (2 attempts), still trying; LAN members: 1 alive of 1; services: 0`.
 */
export function statusText(source: AgentStatusSource, retryJoin: ReadonlyMap<PoolName, JoinProgress>): string {
  const waiting = [...retryJoin].filter(([, p]) => !p.joined);
  const head = waiting.length === 0
    ? 'ready'
    : waiting.map(([pool, p]) => `retry_join${pool === 'wan' ? '_wan' : ''}: no seed answered yet (${p.failures} attempt${p.failures === 1 ? '' : 's'}), still trying`).join('; ');
  const wan = source.wanMembers();
  return [
    head,
    `LAN members: ${poolCounts(source.lanMembers())}`,
    ...(wan === undefined ? [] : [`WAN members: ${poolCounts(wan)}`]),
    `services: ${source.serviceCount?.() ?? 0}`,
  ].join('; ');
}

/** Where one pool's retry_join stands. */
export interface JoinProgress {
  joined: boolean;
  failures: number;
}

/** Options of SystemdNotifier. */
export interface SystemdNotifierOptions {
  sender: NotifySender;
  clock: Clock;
  logger: Logger;
  /** Pools with retry_join seeds: readiness waits for the first attempt of each. */
  retryJoinPools: readonly PoolName[];
  /** Watchdog timeout (WATCHDOG_USEC); keep-alives every half of it. Undefined: no watchdog. */
  watchdogUsec?: number;
  /** How often STATUS is recomputed (sent only when it changed); default 5 s. */
  statusIntervalMs?: number;
  /** MONOTONIC_USEC for RELOADING=1; default CLOCK_MONOTONIC. */
  monotonicUsec?: () => bigint;
}

type Phase = 'starting' | 'ready' | 'stopping' | 'closed';

/** Reports the agent's lifecycle to systemd. */
export class SystemdNotifier implements AgentLifecycle {
  private phase: Phase = 'starting';
  private source: AgentStatusSource | undefined;
  private readonly joins = new Map<PoolName, JoinProgress>();
  private reloads = 0;
  private lastStatus = '';
  private watchdogTimer: TimerHandle | undefined;
  private statusTimer: TimerHandle | undefined;

  constructor(private readonly o: SystemdNotifierOptions) {
    for (const pool of o.retryJoinPools) this.joins.set(pool, { joined: false, failures: 0 });
  }

  /** Starts the watchdog keep-alives (at once, then every WATCHDOG_USEC/2) and the status refresh. */
  start(): void {
    if (this.o.watchdogUsec !== undefined) {
      this.o.logger.info({ intervalMs: this.watchdogIntervalMs() }, 'systemd watchdog: sending keep-alives');
      this.keepAlive();
    }
    this.scheduleStatus();
  }

  started(agent: AgentStatusSource): void {
    this.source = agent;
    if (!this.maybeReady()) this.sendStatus();
  }

  joinAttempt(pool: PoolName, joined: boolean): void {
    const p = this.joins.get(pool);
    if (p === undefined || p.joined) return;
    const wasReady = this.phase === 'ready';
    if (joined) p.joined = true;
    else p.failures++;
    // Becoming ready sends the status with READY=1; once ready, a change is a STATUS update.
    if (this.maybeReady() && wasReady) this.sendStatus();
  }

  reloading(): void {
    this.reloads++;
    if (this.phase !== 'ready' || this.reloads > 1) return;
    void this.o.sender.send(['RELOADING=1', `MONOTONIC_USEC=${(this.o.monotonicUsec ?? monotonicUsec)()}`, 'STATUS=reloading configuration']);
  }

  reloaded(): void {
    this.reloads = Math.max(0, this.reloads - 1);
    if (this.phase !== 'ready' || this.reloads > 0) return;
    this.lastStatus = this.status();
    void this.o.sender.send(['READY=1', `STATUS=${this.lastStatus}`]);
  }

  stopping(): void {
    if (this.phase === 'stopping' || this.phase === 'closed') return;
    this.phase = 'stopping';
    this.o.clock.clearTimer(this.statusTimer);
    void this.o.sender.send(['STOPPING=1', 'STATUS=stopping: leaving the cluster']);
  }

  /** Stops the timers and waits (at most `timeoutMs`) for queued notifications to go out. */
  async close(timeoutMs = 2000): Promise<void> {
    this.phase = 'closed';
    this.o.clock.clearTimer(this.watchdogTimer);
    this.o.clock.clearTimer(this.statusTimer);
    await this.o.sender.close(timeoutMs);
  }

  /** Sends READY=1 once every condition holds; true when the agent is (now or already) ready. */
  private maybeReady(): boolean {
    if (this.phase !== 'starting') return this.phase === 'ready';
    if (this.source === undefined || [...this.joins.values()].some((p) => !p.joined && p.failures === 0)) return false;
    this.phase = 'ready';
    this.lastStatus = this.status();
    this.o.logger.info({ status: this.lastStatus }, 'systemd: ready');
    void this.o.sender.send(['READY=1', `STATUS=${this.lastStatus}`]);
    return true;
  }

  private status(): string {
    return this.source === undefined ? 'starting' : statusText(this.source, this.joins);
  }

  /** Sends STATUS when it changed (and no reload is in flight, whose READY=1 carries it). */
  private sendStatus(): void {
    if (this.phase === 'stopping' || this.phase === 'closed' || this.reloads > 0) return;
    const status = this.phase === 'starting' && this.source !== undefined ? 'started; waiting for the first retry_join attempt' : this.status();
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    void this.o.sender.send([`STATUS=${status}`]);
  }

  private scheduleStatus(): void {
    this.statusTimer = this.o.clock.setTimer(this.o.statusIntervalMs ?? 5000, () => {
      if (this.phase === 'ready') this.sendStatus();
      if (this.phase === 'starting' || this.phase === 'ready') this.scheduleStatus();
    });
  }

  /** Half the watchdog timeout, as sd_watchdog_enabled(3) advises, in ms. */
  private watchdogIntervalMs(): number {
    return (this.o.watchdogUsec ?? 0) / 2000;
  }

  private keepAlive(): void {
    if (this.phase === 'closed') return;
    void this.o.sender.send(['WATCHDOG=1']);
    this.watchdogTimer = this.o.clock.setTimer(this.watchdogIntervalMs(), () => this.keepAlive());
  }
}

/** The configuration settings readiness depends on (AgentConfig has them). */
export interface ReadinessConfig {
  readonly server: boolean;
  readonly retryJoin: readonly string[];
  readonly retryJoinWan: readonly string[];
}

/** Pools whose first retry_join attempt readiness waits for: those the agent runs retry_join in. */
export function retryJoinPools(c: ReadinessConfig): PoolName[] {
  const pools: PoolName[] = [];
  if (c.retryJoin.length > 0) pools.push('lan');
  if (c.server && c.retryJoinWan.length > 0) pools.push('wan');
  return pools;
}

/** Options of systemdNotifierFromEnv. */
export interface NotifierFromEnvOptions {
  /** The process environment; the protocol variables are removed from it. */
  env: NodeJS.ProcessEnv;
  config: ReadinessConfig;
  clock: Clock;
  logger: Logger;
  pid?: number;
  /** For tests: another sender than systemd-notify. */
  sender?: (env: NotifyEnv) => NotifySender;
}

/** A started notifier when systemd asked for notifications (NOTIFY_SOCKET set), else undefined. */
export function systemdNotifierFromEnv(o: NotifierFromEnvOptions): SystemdNotifier | undefined {
  const problems: string[] = [];
  const env = takeNotifyEnv(o.env, o.pid ?? process.pid, problems);
  for (const problem of problems) o.logger.warn({}, problem);
  if (env === undefined) return undefined;
  const sender = o.sender?.(env) ?? new SystemdNotifySender({ socket: env.socket, clock: o.clock, logger: o.logger });
  const notifier = new SystemdNotifier({
    sender, clock: o.clock, logger: o.logger, retryJoinPools: retryJoinPools(o.config),
    ...(env.watchdogUsec === undefined ? {} : { watchdogUsec: env.watchdogUsec }),
  });
  notifier.start();
  return notifier;
}
