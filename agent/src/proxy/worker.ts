/**
 * The proxy worker thread: runs the ProxyEngine on its own event loop, so TLS and byte shuffling never
 * delay the agent's gossip (probe acks answered late make peers suspect this node). It receives
 * snapshots from the agent and answers metrics requests; it logs (listener changes, access log) to
 * the agent's stdout directly, in whole-line synchronous writes so lines never interleave.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../agent/logging';
import type { LogLevel } from '../config';
import { systemClock } from '../core/clock';
import { systemRandom } from '../core/random';
import { BatchedAccessLog } from './access-log';
import { ProxyEngine } from './engine';
import type { FromWorker, ToWorker } from './types';

/** What the agent passes at start. */
export interface WorkerData {
  logLevel: LogLevel;
  logJson: boolean;
}

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('proxy worker started outside a worker thread');
  const data = workerData as WorkerData;
  const logger = createLogger({ level: data.logLevel, json: data.logJson });
  const send = (m: FromWorker): void => port.postMessage(m);
  // Access lines are info lines: off when the agent logs at warn or above.
  const accessOn = data.logLevel === 'trace' || data.logLevel === 'debug' || data.logLevel === 'info';
  const accessLog = accessOn ? new BatchedAccessLog({ json: data.logJson, now: () => systemClock.wallNow() }) : { write: () => {} };
  const engine = new ProxyEngine({
    clock: systemClock, random: systemRandom, logger, accessLog,
    onListener: (s) => send({ t: 'listener', ...s }),
  });
  if (accessLog instanceof BatchedAccessLog) accessLog.onDropped = (n) => engine.metrics.accessLogDropped.inc(n);
  // Snapshots apply one at a time, in order; a newer one waiting replaces any older one waiting.
  let applying = false;
  let pending: ToWorker & { t: 'snapshot' } | undefined;
  const drain = async (): Promise<void> => {
    if (applying) return;
    applying = true;
    try {
      while (pending !== undefined) {
        const next = pending;
        pending = undefined;
        await engine.apply(next.snapshot).catch((err: unknown) => logger.error({ component: 'proxy', err: (err as Error).message }, 'could not apply the proxy configuration'));
      }
    } finally {
      applying = false;
    }
  };
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'snapshot':
        pending = m;
        void drain();
        break;
      case 'metrics':
        void engine.metricsText().then((text) => send({ t: 'metrics', id: m.id, text }));
        break;
      case 'stop':
        engine.stop();
        if (accessLog instanceof BatchedAccessLog) accessLog.flush();
        send({ t: 'stopped' });
        port.close();
        break;
    }
  });
}

main();
