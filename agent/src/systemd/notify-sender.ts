/**
 * Sending sd_notify datagrams without libsystemd and without a native module.
 *
 * Node cannot send to an AF_UNIX datagram socket (`dgram` speaks UDP only, `net` streams only), so
 * each notification is handed to `systemd-notify`, which ships with systemd itself (wherever systemd
 * sets NOTIFY_SOCKET, the tool is there) and handles both path and `@abstract` sockets. Costs and
 * consequences, measured and accepted:
 * - One short child process per message, about 5 ms; the agent sends one every WATCHDOG_USEC/2
 *   (15 s with WatchdogSec=30s) plus a few at start, reload and stop.
 * - The datagram comes from the child, so the unit needs `NotifyAccess=all`. systemd-notify (since
 *   systemd 246) waits on a barrier until the manager has processed the message, so the message is
 *   attributed to the unit even though the sender exits right after. It first tries to send with our
 *   PID as the credentials (it names its parent by default, hence no `--pid`, which would also
 *   send MAINPID=); without privileges it falls back to its own PID, which NotifyAccess=all accepts.
 * - Messages are sent one at a time, in order (RELOADING=1 must reach systemd before READY=1).
 */
import { spawn } from 'node:child_process';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';

/** Sends notification messages; each message is one datagram of `KEY=VALUE` assignments. */
export interface NotifySender {
  /** Queues one message; resolves once it was sent or dropped (never rejects). */
  send(assignments: readonly string[]): Promise<void>;
  /** Resolves once every queued message was sent or `timeoutMs` passed; later sends are dropped. */
  close(timeoutMs: number): Promise<void>;
}

/** Options of SystemdNotifySender. */
export interface SystemdNotifySenderOptions {
  /** NOTIFY_SOCKET as systemd set it: `/path` or `@abstract`. */
  socket: string;
  clock: Clock;
  logger: Logger;
  /** The helper; default `systemd-notify` looked up on PATH. */
  command?: string;
  /** PATH for finding the helper; default the agent's PATH, else the usual system directories. */
  path?: string;
  /** A helper still running after this long is killed and its message counted as lost; default 10 s. */
  timeoutMs?: number;
  /** Messages waiting beyond this many are dropped (a hung helper must not grow memory); default 16. */
  maxQueued?: number;
}

/** Sends each message by running `systemd-notify KEY=VALUE...`, one at a time. */
export class SystemdNotifySender implements NotifySender {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closed = false;
  /** Set once the helper cannot be run at all; every later message is dropped silently. */
  private unavailable = false;
  private failures = 0;

  constructor(private readonly o: SystemdNotifySenderOptions) {}

  send(assignments: readonly string[]): Promise<void> {
    if (this.closed || this.unavailable) return Promise.resolve();
    if (this.queued >= (this.o.maxQueued ?? 16)) {
      this.o.logger.warn({ dropped: assignments.map((a) => a.split('=')[0]) }, 'systemd notification dropped: earlier ones are still being sent');
      return Promise.resolve();
    }
    this.queued++;
    this.tail = this.tail.then(() => this.run(assignments)).finally(() => void this.queued--);
    return this.tail;
  }

  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    let timer: TimerHandle | undefined;
    const deadline = new Promise<void>((resolve) => (timer = this.o.clock.setTimer(timeoutMs, resolve)));
    await Promise.race([this.tail, deadline]);
    this.o.clock.clearTimer(timer);
  }

  private run(assignments: readonly string[]): Promise<void> {
    if (this.unavailable) return Promise.resolve();
    const command = this.o.command ?? 'systemd-notify';
    return new Promise((resolve) => {
      // Only what the helper needs: the socket and where to find it. No WATCHDOG_* and no secrets.
      const env = { NOTIFY_SOCKET: this.o.socket, PATH: this.o.path ?? process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
      const child = spawn(command, [...assignments], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length < 1024) stderr += chunk;
      });
      const timer = this.o.clock.setTimer(this.o.timeoutMs ?? 10_000, () => child.kill('SIGKILL'));
      child.on('error', (err: NodeJS.ErrnoException) => {
        this.o.clock.clearTimer(timer);
        this.unavailable = true;
        this.o.logger.error({ command, err: err.message },
          'NOTIFY_SOCKET is set but systemd-notify cannot run: systemd will not learn that the agent is ready (install systemd or unset NOTIFY_SOCKET)');
        resolve();
      });
      child.on('close', (code, signal) => {
        this.o.clock.clearTimer(timer);
        if (code !== 0) this.failed(assignments, code, signal, stderr);
        resolve();
      });
    });
  }

  /** Logs the first failure and then every 100th, so a broken socket does not flood the log. */
  private failed(assignments: readonly string[], code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    this.failures++;
    if (this.failures !== 1 && this.failures % 100 !== 0) return;
    this.o.logger.warn({
      message: assignments.map((a) => a.split('=')[0]), code, signal, stderr: stderr.trim(), failures: this.failures,
    }, 'systemd notification failed');
  }
}
