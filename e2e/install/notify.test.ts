/**
 * End to end: real `shoal agent` processes started the way the unit starts them (through a shell that
 * execs node, with WATCHDOG_PID set to that shell's PID as systemd sets it to MAINPID), with
 * NOTIFY_SOCKET pointing at a python3 stand-in for systemd's notification socket. Checks what systemd
 * would see: READY=1 only once the agent joined (or with a STATUS saying retry_join still tries),
 * WATCHDOG=1 every WATCHDOG_USEC/2, RELOADING=1 with a CLOCK_MONOTONIC stamp then READY=1 on SIGHUP,
 * STOPPING=1 on SIGTERM, through path and abstract sockets. Addresses 127.0.2.1-9.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { systemClock } from '../../agent/src/core/clock';
import { waitFor } from '../../agent/test/agent/poll';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'agent', 'src', 'cli', 'main.js');
const LISTENER = join(ROOT, 'e2e', 'install', 'notify-listener.py');
const tmp = mkdtempSync(join(tmpdir(), 'shoal-notify-'));
const children: ChildProcess[] = [];

const missing = ['python3', 'systemd-notify'].filter((c) => spawnSync(c, ['--version']).error !== undefined);
const skip = missing.length > 0 ? `needs ${missing.join(' and ')} (apt-get install python3 systemd)` : false;

after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** One datagram as the listener saw it. */
interface Datagram {
  /** CLOCK_MONOTONIC at receipt, µs. */
  mono_us: number;
  msg: string;
}

/** The python3 socket stand-in; `datagrams` fills as messages arrive. */
async function listen(socket: string): Promise<{ datagrams: Datagram[]; stop: () => void }> {
  const child = spawn('python3', [LISTENER, socket], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const datagrams: Datagram[] = [];
  let bound = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'listening') bound = true;
    else datagrams.push(JSON.parse(line) as Datagram);
  });
  await waitFor(`the notify listener on ${socket}`, () => bound, 10_000);
  return { datagrams, stop: () => child.stdin!.end() };
}

/** A running agent process and its JSON log lines. */
interface AgentProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts `shoal agent` through `sh -c 'exec node ...'`, as the launcher does, with `env` added. */
function startAgent(name: string, ip: string, hcl: string, env: Record<string, string> = {}): AgentProcess {
  const file = join(tmp, `${name}.hcl`);
  writeFileSync(file, `node_name = "${name}"\nbind_addr = "${ip}"\nclient_addr = "${ip}"\ndata_dir = "${join(tmp, `data-${name}`)}"\n`
    + `profile = "local"\nlog_json = true\nports {\n  http = 7500\n  serf_lan = 7301\n}\n${hcl}`);
  const withPid = env['NOTIFY_SOCKET'] === undefined ? '' : 'export WATCHDOG_PID=$$; ';
  const child = spawn('sh', ['-c', `${withPid}exec "$0" "$@"`, process.execPath, MAIN, 'agent', '-config-file', file], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ msg: line });
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, logs, exited };
}

async function stopAgent(a: AgentProcess): Promise<number | null> {
  a.child.kill('SIGTERM');
  return a.exited;
}

/** Index of the first datagram at or after `from` that has the assignment `KEY=...` (or exactly `line`). */
function find(ds: Datagram[], line: string | RegExp, from = 0): number {
  for (let i = from; i < ds.length; i++) {
    const lines = ds[i]!.msg.split('\n');
    if (lines.some((l) => (typeof line === 'string' ? l === line : line.test(l)))) return i;
  }
  return -1;
}

function field(d: Datagram, key: string): string | undefined {
  return d.msg.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
}

test('path socket: ready while retry_join still tries, then joined; watchdog cadence; reload; stop', { skip, timeout: 90_000 }, async () => {
  const sock = join(tmp, 'notify.sock');
  const { datagrams: ds, stop } = await listen(sock);
  const a = startAgent('a', '127.0.2.1', 'retry_join = ["127.0.2.2:7301"]\nretry_interval = "1s"\n',
    { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '2000000' });

  // The seed is not up: READY=1 comes after the first failed attempt, and STATUS says so.
  const ready = await waitFor('READY=1', () => ds[find(ds, 'READY=1')]);
  assert.match(field(ready, 'STATUS') ?? '', /^retry_join: no seed answered yet \(1 attempt\), still trying; LAN members: 1 alive of 1; services: 0$/);
  assert.ok(a.logs.some((l) => l['msg'] === 'retry_join: attempt failed'), 'the first attempt had failed before READY=1');

  const seed = startAgent('seed', '127.0.2.2', '');
  await waitFor('STATUS: joined', () => find(ds, 'STATUS=ready; LAN members: 2 alive of 2; services: 0') >= 0, 30_000);

  // Keep-alives every WATCHDOG_USEC/2 = 1 s, measured on the receiving side.
  const watchdogs = (): number[] => ds.filter((d) => d.msg === 'WATCHDOG=1').map((d) => d.mono_us);
  const seen = watchdogs().length;
  await waitFor('four more WATCHDOG=1', () => watchdogs().length >= seen + 4, 15_000);
  const at = watchdogs();
  const gaps = at.slice(1).map((t, i) => (t - at[i]!) / 1000).sort((x, y) => x - y);
  const median = gaps[Math.floor(gaps.length / 2)]!;
  assert.ok(median > 850 && median < 1300, `median keep-alive gap ${median} ms, expected about 1000 ms (gaps: ${gaps.join(', ')})`);
  assert.ok(gaps[gaps.length - 1]! < 2000, `every gap below WATCHDOG_USEC (2000 ms); gaps: ${gaps.join(', ')}`);

  // SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, as the receiver's clock), then READY=1.
  const before = ds.length;
  a.child.kill('SIGHUP');
  const reloading = await waitFor('RELOADING=1', () => ds[find(ds, 'RELOADING=1', before)]);
  const stamp = Number(field(reloading, 'MONOTONIC_USEC'));
  assert.ok(reloading.mono_us - stamp >= 0 && reloading.mono_us - stamp < 2_000_000,
    `MONOTONIC_USEC=${stamp} should be CLOCK_MONOTONIC shortly before receipt at ${reloading.mono_us}`);
  const readyAgain = await waitFor('READY=1 after the reload', () => ds[find(ds, 'READY=1', ds.indexOf(reloading) + 1)]);
  assert.equal(field(readyAgain, 'STATUS'), 'ready; LAN members: 2 alive of 2; services: 0');

  // SIGTERM: STOPPING=1, a graceful leave the seed sees, exit 0.
  const beforeStop = ds.length;
  assert.equal(await stopAgent(a), 0);
  assert.ok(find(ds, 'STOPPING=1', beforeStop) >= 0, 'STOPPING=1 was sent');
  const members = await (await fetch('http://127.0.2.2:7500/v1/agent/members')).json() as { Name: string; Status: number }[];
  assert.equal(members.find((m) => m.Name === 'a')?.Status, 3, 'the seed saw a leave (Status 3), not a failure');
  assert.equal(await stopAgent(seed), 0);
  stop();
});

test('abstract socket: with the seed up, READY=1 waits for the join and shows both members and the service count', { skip, timeout: 60_000 }, async () => {
  const sock = `@shoal-notify-test-${process.pid}`;
  const { datagrams: ds, stop } = await listen(sock);
  const seed = startAgent('seed2', '127.0.2.3', '');
  await waitFor('the seed to serve', () => seed.logs.some((l) => l['msg'] === 'agent started'));
  const b = startAgent('b', '127.0.2.4', 'retry_join = ["127.0.2.3:7301"]\nservice {\n  name = "db"\n  port = 5432\n}\n', { NOTIFY_SOCKET: sock });
  const ready = await waitFor('READY=1', () => ds[find(ds, 'READY=1')]);
  assert.equal(field(ready, 'STATUS'), 'ready; LAN members: 2 alive of 2; services: 1');
  assert.equal(ds.filter((d) => d.msg.includes('WATCHDOG=1')).length, 0, 'no keep-alives without WATCHDOG_USEC');
  assert.equal(await stopAgent(b), 0);
  assert.ok(find(ds, 'STOPPING=1') > find(ds, 'READY=1'));
  assert.equal(await stopAgent(seed), 0);
  stop();
});

test('a NOTIFY_SOCKET nobody listens on is logged, and the agent serves on', { skip, timeout: 60_000 }, async () => {
  const c = startAgent('c', '127.0.2.5', '', { NOTIFY_SOCKET: join(tmp, 'nobody.sock') });
  await waitFor('the failure to be logged', () => c.logs.some((l) => l['msg'] === 'systemd notification failed'));
  const res = await fetch('http://127.0.2.5:7500/v1/agent/self');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const started = systemClock.now();
  assert.equal(await stopAgent(c), 0);
  assert.ok(systemClock.now() - started < 10_000, 'a failing helper does not hold up the stop');
});
