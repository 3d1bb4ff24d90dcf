/**
 * Processes of `bench:proxy`: every child it starts (the app, haproxy, agents, wrk) is tracked by PID
 * until it has exited, and `killAllSync` (run from the exit and signal hooks) SIGKILLs what is left,
 * so an error or a Ctrl-C leaves nothing listening. Also reads a process tree's CPU time and peak RSS
 * from /proc, and probes loopback addresses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { systemClock } from '../../agent/src/core/clock';

/** One started child process. */
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The log file holding its stdout and stderr (undefined when they are piped). */
  logPath: string | undefined;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
}

const live = new Map<number, Proc>();

/** True while `p` has not exited. */
export function running(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/**
 * Starts `cmd args`, pinned to `cpus` with `taskset -c` when given (taskset execs the command, so
 * the PID is the command's own). Output goes to `logPath`, or to pipes when it is undefined.
 */
export function start(name: string, cmd: string, args: readonly string[], opts: { cpus?: string; logPath?: string } = {}): Proc {
  const argv = opts.cpus === undefined ? [cmd, ...args] : ['taskset', '-c', opts.cpus, cmd, ...args];
  let child: ChildProcess;
  if (opts.logPath === undefined) {
    child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    const fd = openSync(opts.logPath, 'a');
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
  }
  if (child.pid === undefined) throw new Error(`could not start ${name} (${argv.join(' ')})`);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const p: Proc = { name, child, pid: child.pid, logPath: opts.logPath, exited };
  live.set(p.pid, p);
  void exited.then(() => live.delete(p.pid));
  return p;
}

/** SIGKILLs every tracked process still running (synchronous: usable from an exit hook). */
export function killAllSync(): void {
  for (const p of live.values()) {
    if (!running(p)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone an instant ago
    }
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stop(p: Proc, graceMs = 5_000): Promise<void> {
  if (!running(p)) return;
  p.child.kill('SIGTERM');
  const t = systemClock.setTimer(graceMs, () => {
    if (running(p)) p.child.kill('SIGKILL');
  });
  await p.exited;
  systemClock.clearTimer(t);
}

/** The last `bytes` of a process's log file, for error messages. */
export function logTail(p: Proc, bytes = 1_500): string {
  if (p.logPath === undefined) return '';
  try {
    const text = readFileSync(p.logPath, 'utf8');
    return text.slice(-bytes).trim();
  } catch {
    return '';
  }
}

// ---- /proc ----

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux/x86). */
const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** `pid` and its descendants (children of every thread), so a data plane in a child process counts too. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  // Bounded: a process tree of a benchmark is small; 1000 stops a runaway walk.
  for (let i = 0; i < todo.length && i < 1_000; i++) {
    const p = todo[i]!;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') todo.push(Number(c));
      } catch {
        // the thread ended
      }
    }
  }
  return out;
}

/** User + system CPU seconds of `pids` (all threads, worker threads included). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name (which may hold spaces): state is field 3,
      // utime field 14 and stime field 15 (proc(5)).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // exited
    }
  }
  return ticks / CLK_TCK;
}

/**
 * Resets the peak RSS (VmHWM) of `pids` to their current RSS (`echo 5 > clear_refs`, Linux 4.0+;
 * needs root or the same user). Returns false when the kernel refused, so peaks count from start.
 */
export function resetPeakRss(pids: readonly number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Sum over `pids` of each process's peak RSS (VmHWM), in MiB. */
export function peakRssMiB(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return kb / 1024;
}

// ---- probes ----

/** True when something accepts a TCP connection on host:port within `timeoutMs`. */
export function tcpOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.setTimeout(timeoutMs);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

/** One GET on a fresh connection; resolves with the status and body, rejects on error or timeout. */
export function httpGet(host: string, port: number, path: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 100_000) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; resolves with whether it
 * succeeded and the last error `check` threw.
 */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<{ ok: boolean; lastError: string }> {
  const deadline = systemClock.now() + timeoutMs;
  let lastError = '';
  for (let i = 0; i < 100_000; i++) {
    try {
      if (await check()) return { ok: true, lastError };
      lastError = '';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (systemClock.now() >= deadline) break;
    await systemClock.sleep(Math.min(everyMs, Math.max(0, deadline - systemClock.now())));
  }
  return { ok: false, lastError };
}
