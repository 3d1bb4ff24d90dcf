/** TCP checks: passing when a connection to `host:port` opens within the timeout, else critical. */
import { connect } from 'node:net';
import { abortMessage } from './check-scheduler';
import type { CheckResult, TcpCheckSpec } from './types';

/** Runs one TCP check; the connection is closed as soon as it opens. */
export function probeTcp(spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const target = spec.host.includes(':') ? `[${spec.host}]:${spec.port}` : `${spec.host}:${spec.port}`;
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ status: 'critical', output: `TCP connect ${target}: ${abortMessage(signal)}` });
      return;
    }
    const socket = connect({ host: spec.host, port: spec.port });
    const settle = (result: CheckResult): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => settle({ status: 'critical', output: `TCP connect ${target}: ${abortMessage(signal)}` });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => settle({ status: 'passing', output: `TCP connect ${target}: Success` }));
    socket.once('error', (err) => settle({ status: 'critical', output: `TCP connect ${target}: ${err.message}` }));
  });
}
