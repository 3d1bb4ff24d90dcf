/**
 * Script checks: `args` run directly (no shell), in their own process group, with stdin closed.
 * Exit 0 is passing, 1 warning, anything else (or a signal) critical, as Nagios plugins and Consul
 * agree. Output is stdout and stderr in arrival order, the first 4 KiB kept; the pipes are drained to
 * the end but bytes past the cap are dropped, so a chatty script neither grows memory nor blocks on a
 * full pipe (which would turn a healthy script into a timeout). At the timeout (default 30 s) the
 * whole process group is killed, so children of a shell script die with it.
 */
import { spawn } from 'node:child_process';
import { BoundedOutput } from './check-output';
import { abortMessage } from './check-scheduler';
import type { CheckResult, ScriptCheckSpec } from './types';
import type { HealthStatus } from '../catalog/types';

/** Exit 0 passing, 1 warning, anything else critical. */
export function exitStatus(code: number | null): HealthStatus {
  if (code === 0) return 'passing';
  return code === 1 ? 'warning' : 'critical';
}

/** Runs one script check. */
export function probeScript(spec: ScriptCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const [cmd, ...args] = spec.args;
  return new Promise((resolve) => {
    if (cmd === undefined || signal.aborted) {
      resolve({ status: 'critical', output: cmd === undefined ? 'no command given' : abortMessage(signal) });
      return;
    }
    const output = new BoundedOutput();
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let exitCode: number | null | undefined;
    let settled = false;
    const settle = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };
    const onAbort = (): void => {
      killGroup(child.pid);
      const partial = output.text();
      const result: CheckResult = { status: 'critical', output: `Timed out running check: ${abortMessage(signal)}; process group killed${partial === '' ? '' : `. Output: ${partial}`}` };
      // Wait for the leader's exit (SIGKILL cannot be ignored) so no process outlives stop().
      if (exitCode !== undefined || child.pid === undefined) settle(result);
      else child.once('exit', () => settle(result));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (chunk: Buffer) => output.append(chunk));
    child.stderr!.on('data', (chunk: Buffer) => output.append(chunk));
    child.once('error', (err) => settle({ status: 'critical', output: `failed to run ${JSON.stringify(cmd)}: ${err.message}` }));
    child.once('exit', (code) => {
      exitCode = code;
    });
    // 'close' comes after exit and after both pipes ended, so the output is complete.
    child.once('close', (code) => {
      if (!signal.aborted) settle({ status: exitStatus(code), output: output.text() });
    });
  });
}

/** SIGKILLs the process group led by `pid` (detached children lead their own group). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}
