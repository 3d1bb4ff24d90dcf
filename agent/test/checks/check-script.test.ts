import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckTimeoutError, exitStatus, probeScript } from '../../src/checks';
import { waitFor } from '../agent/poll';

const live = (): AbortSignal => new AbortController().signal;
const sh = (script: string): { type: 'script'; args: string[] } => ({ type: 'script', args: ['sh', '-c', script] });

test('script: exit 0 passing, 1 warning, anything else critical; stdout and stderr captured', async () => {
  assert.deepEqual(await probeScript(sh('echo ok'), live()), { status: 'passing', output: 'ok\n' });
  assert.deepEqual(await probeScript(sh('echo degraded >&2; exit 1'), live()), { status: 'warning', output: 'degraded\n' });
  assert.deepEqual(await probeScript(sh('echo out; echo err >&2; exit 2'), live()), { status: 'critical', output: 'out\nerr\n' });
  assert.deepEqual([0, 1, 2, 127, null].map(exitStatus), ['passing', 'warning', 'critical', 'critical', 'critical']);
});

test('script: arguments are passed as-is, without a shell', async () => {
  const r = await probeScript({ type: 'script', args: ['printf', '%s|', '$HOME', 'a b'] }, live());
  assert.deepEqual(r, { status: 'passing', output: '$HOME|a b|' });
});

test('script: a missing command is critical', async () => {
  const r = await probeScript({ type: 'script', args: ['/nonexistent/check-script'] }, live());
  assert.equal(r.status, 'critical');
  assert.match(r.output, /ENOENT/);
});

test('script: output is capped at 4 KiB while the pipe is drained to the end', async () => {
  // 1 MB of output: a reader that stopped reading would leave the script blocked on a full pipe.
  const r = await probeScript(sh('head -c 1000000 /dev/zero | tr "\\000" x; exit 0'), live());
  assert.equal(r.status, 'passing');
  assert.equal(r.output, 'x'.repeat(4096));
});

test('script: at the timeout the whole process group is killed', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'shoal-script-'));
  const pidFile = join(dir, 'child.pid');
  try {
    const ctl = new AbortController();
    // The shell starts a background child and waits: both must die.
    const pending = probeScript(sh(`sleep 30 & echo $! > ${pidFile}; echo started; wait`), ctl.signal);
    const childPid = Number(await waitFor('the child pid', async () => (await fs.readFile(pidFile, 'utf8').catch(() => '')).trim()));
    ctl.abort(new CheckTimeoutError(30_000));
    const r = await pending;
    assert.equal(r.status, 'critical');
    assert.match(r.output, /timed out after 30s; process group killed\. Output: started/);
    await waitFor('the background child to die', async () => !(await isRunning(childPid)), 5000);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

/** True while `pid` exists and is not a zombie (a zombie is dead, merely not yet reaped by its parent). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}
