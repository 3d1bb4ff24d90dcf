/**
 * The sd_notify state machine on a virtual clock with a fake sender: when READY=1 goes out, what
 * STATUS says, the watchdog cadence, reload and stop messages, and the environment handling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import {
  retryJoinPools, systemdNotifierFromEnv, takeNotifyEnv, SystemdNotifier, type AgentStatusSource, type NotifySender, type PoolName,
} from '../../src/systemd';

/** Records every message with the virtual time it was sent at. */
class FakeSender implements NotifySender {
  readonly sent: { at: number; msg: string[] }[] = [];
  closed = false;
  constructor(private readonly clock: VirtualClock) {}
  send(assignments: readonly string[]): Promise<void> {
    if (!this.closed) this.sent.push({ at: this.clock.now(), msg: [...assignments] });
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  /** Messages as text, one assignment list joined by `|`. */
  texts(): string[] {
    return this.sent.map((s) => s.msg.join('|'));
  }
  having(key: string): { at: number; msg: string[] }[] {
    return this.sent.filter((s) => s.msg.some((a) => a.startsWith(`${key}=`)));
  }
}

/** An agent stand-in whose member list and service count a test changes. */
class FakeAgent implements AgentStatusSource {
  lan = [{ state: 'alive' }];
  wan: { state: string }[] | undefined;
  services: number | undefined;
  lanMembers(): { state: string }[] {
    return this.lan;
  }
  wanMembers(): { state: string }[] | undefined {
    return this.wan;
  }
  serviceCount?(): number;
}

function setup(opts: { pools?: PoolName[]; watchdogUsec?: number } = {}): { clock: VirtualClock; sender: FakeSender; n: SystemdNotifier; agent: FakeAgent } {
  const clock = new VirtualClock();
  const sender = new FakeSender(clock);
  const n = new SystemdNotifier({
    sender, clock, logger: noopLogger, retryJoinPools: opts.pools ?? [], monotonicUsec: () => 123_456_789n,
    ...(opts.watchdogUsec === undefined ? {} : { watchdogUsec: opts.watchdogUsec }),
  });
  n.start();
  return { clock, sender, n, agent: new FakeAgent() };
}

test('takeNotifyEnv: nothing without NOTIFY_SOCKET, and the variables leave the environment either way', () => {
  const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42', PATH: '/bin' };
  assert.equal(takeNotifyEnv(env, 42), undefined);
  assert.deepEqual(env, { PATH: '/bin' });
  const env2: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' };
  assert.deepEqual(takeNotifyEnv(env2, 42), { socket: '/run/systemd/notify', watchdogUsec: 30_000_000 });
  assert.deepEqual(env2, {});
});

test('takeNotifyEnv: abstract sockets; WATCHDOG_PID naming another process turns the watchdog off for us', () => {
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '@sd-notify', WATCHDOG_USEC: '2000000' }, 7), { socket: '@sd-notify', watchdogUsec: 2_000_000 });
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '@sd-notify', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '8' }, 7), { socket: '@sd-notify' });
});

test('takeNotifyEnv: unusable values are reported, not guessed at', () => {
  const problems: string[] = [];
  assert.equal(takeNotifyEnv({ NOTIFY_SOCKET: 'vsock:2:1234' }, 1, problems), undefined);
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '-5' }, 1, problems), { socket: '/s' });
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '/s', WATCHDOG_USEC: '0' }, 1, problems), { socket: '/s' });
  assert.equal(problems.length, 3);
  assert.match(problems[0]!, /NOTIFY_SOCKET=vsock:2:1234: expected a path or an @abstract/);
  assert.match(problems[1]!, /WATCHDOG_USEC=-5/);
});

test('systemdNotifierFromEnv: a silent no-op without NOTIFY_SOCKET (no sender, no timers)', () => {
  const clock = new VirtualClock();
  let senders = 0;
  const n = systemdNotifierFromEnv({
    env: { PATH: '/bin' }, config: { server: false, retryJoin: ['10.0.0.1'], retryJoinWan: [] }, clock, logger: noopLogger,
    sender: () => {
      senders++;
      return new FakeSender(clock);
    },
  });
  assert.equal(n, undefined);
  assert.equal(senders, 0);
  assert.equal(clock.pending(), 0);
});

test('systemdNotifierFromEnv: with NOTIFY_SOCKET and WATCHDOG_USEC it keeps alive at once and strips the environment', async () => {
  const clock = new VirtualClock();
  const sender = new FakeSender(clock);
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '99' };
  const n = systemdNotifierFromEnv({ env, config: { server: false, retryJoin: [], retryJoinWan: [] }, clock, logger: noopLogger, pid: 99, sender: () => sender });
  assert.ok(n !== undefined);
  assert.deepEqual(env, {});
  clock.advance(4000);
  assert.deepEqual(sender.having('WATCHDOG').map((s) => s.at), [0, 2000, 4000]);
  await n.close();
});

test('retryJoinPools: LAN when retry_join is set; WAN only on servers with retry_join_wan', () => {
  assert.deepEqual(retryJoinPools({ server: false, retryJoin: [], retryJoinWan: ['a'] }), []);
  assert.deepEqual(retryJoinPools({ server: false, retryJoin: ['a'], retryJoinWan: ['b'] }), ['lan']);
  assert.deepEqual(retryJoinPools({ server: true, retryJoin: ['a'], retryJoinWan: ['b'] }), ['lan', 'wan']);
});

test('watchdog: WATCHDOG=1 every WATCHDOG_USEC/2 on the clock, until close', async () => {
  const { clock, sender, n } = setup({ watchdogUsec: 2_000_000 });
  clock.advance(10_000);
  const at = sender.having('WATCHDOG').map((s) => s.at);
  assert.deepEqual(at, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  await n.close();
  clock.advance(10_000);
  assert.equal(sender.having('WATCHDOG').length, 11);
});

test('watchdog: none without WATCHDOG_USEC', () => {
  const { clock, sender } = setup();
  clock.advance(60_000);
  assert.equal(sender.having('WATCHDOG').length, 0);
});

test('ready at start when there is no retry_join, with member and service counts', () => {
  const { sender, n, agent } = setup();
  assert.equal(sender.sent.length, 0);
  n.started(agent);
  assert.deepEqual(sender.texts(), ['READY=1|STATUS=ready; LAN members: 1 alive of 1; services: 0']);
});

test('with retry_join, READY=1 waits for the first attempt; joined at once means a plain ready status', () => {
  const { sender, n, agent } = setup({ pools: ['lan'] });
  n.started(agent);
  assert.deepEqual(sender.texts(), ['STATUS=started; waiting for the first retry_join attempt']);
  agent.lan = [{ state: 'alive' }, { state: 'alive' }];
  n.joinAttempt('lan', true);
  assert.deepEqual(sender.having('READY').map((s) => s.msg), [['READY=1', 'STATUS=ready; LAN members: 2 alive of 2; services: 0']]);
});

test('a failed first retry_join attempt makes the agent ready with a status that says it is still trying, then joined', () => {
  const { clock, sender, n, agent } = setup({ pools: ['lan'] });
  n.joinAttempt('lan', false);
  assert.equal(sender.sent.length, 0, 'not ready before the agent started');
  n.started(agent);
  assert.deepEqual(sender.texts(), ['READY=1|STATUS=retry_join: no seed answered yet (1 attempt), still trying; LAN members: 1 alive of 1; services: 0']);
  n.joinAttempt('lan', false);
  assert.equal(sender.texts()[1], 'STATUS=retry_join: no seed answered yet (2 attempts), still trying; LAN members: 1 alive of 1; services: 0');
  agent.lan = [{ state: 'alive' }, { state: 'alive' }, { state: 'suspect' }];
  n.joinAttempt('lan', true);
  assert.equal(sender.texts()[2], 'STATUS=ready; LAN members: 2 alive of 3; services: 0');
  assert.equal(sender.having('READY').length, 1, 'READY=1 is sent once');
  n.joinAttempt('lan', false);
  clock.advance(60_000);
  assert.equal(sender.sent.length, 3, 'nothing more while nothing changes');
});

test('servers wait for the first attempt of both pools and report WAN members', () => {
  const { sender, n, agent } = setup({ pools: ['lan', 'wan'] });
  agent.wan = [{ state: 'alive' }];
  n.started(agent);
  n.joinAttempt('lan', true);
  assert.equal(sender.having('READY').length, 0);
  n.joinAttempt('wan', false);
  assert.deepEqual(sender.having('READY')[0]!.msg, [
    'READY=1', 'STATUS=retry_join_wan: no seed answered yet (1 attempt), still trying; LAN members: 1 alive of 1; WAN members: 1 alive of 1; services: 0',
  ]);
});

test('STATUS follows member and service counts every 5 s, sent only when it changed', () => {
  const { clock, sender, n, agent } = setup();
  agent.serviceCount = () => agent.services ?? 0;
  n.started(agent);
  clock.advance(20_000);
  assert.equal(sender.sent.length, 1);
  agent.lan = [{ state: 'alive' }, { state: 'alive' }, { state: 'alive' }];
  agent.services = 4;
  clock.advance(5000);
  assert.deepEqual(sender.sent.slice(1), [{ at: 25_000, msg: ['STATUS=ready; LAN members: 3 alive of 3; services: 4'] }]);
});

test('reload: RELOADING=1 with MONOTONIC_USEC, then READY=1 when it finished; overlapping reloads make one pair', () => {
  const { sender, n, agent } = setup();
  n.started(agent);
  n.reloading();
  n.reloading();
  n.reloaded();
  assert.deepEqual(sender.texts().slice(1), ['RELOADING=1|MONOTONIC_USEC=123456789|STATUS=reloading configuration']);
  n.reloaded();
  assert.deepEqual(sender.texts().slice(2), ['READY=1|STATUS=ready; LAN members: 1 alive of 1; services: 0']);
});

test('a reload before the agent is ready sends nothing (READY=1 then comes from readiness alone)', () => {
  const { sender, n, agent } = setup({ pools: ['lan'] });
  n.reloading();
  n.reloaded();
  n.started(agent);
  n.reloading();
  n.reloaded();
  assert.deepEqual(sender.texts(), ['STATUS=started; waiting for the first retry_join attempt']);
});

test('stopping: STOPPING=1 once; afterwards no READY or STATUS, but the watchdog goes on until close', async () => {
  const { clock, sender, n, agent } = setup({ watchdogUsec: 10_000_000 });
  n.started(agent);
  n.stopping();
  n.stopping();
  n.reloading();
  n.reloaded();
  agent.lan = [];
  clock.advance(10_000);
  assert.deepEqual(sender.texts(), [
    'WATCHDOG=1', 'READY=1|STATUS=ready; LAN members: 1 alive of 1; services: 0', 'STOPPING=1|STATUS=stopping: leaving the cluster', 'WATCHDOG=1', 'WATCHDOG=1',
  ]);
  await n.close();
  assert.equal(sender.closed, true);
});
