/**
 * The agent's side of the data plane. It watches what the proxy depends on (local sidecars, the
 * catalog, gossip states, config entries, the CA's leaves and roots), rebuilds the snapshot shortly
 * after any change (changes arriving together make one snapshot) and posts it to the proxy worker.
 *
 * The proxy runs in a worker thread (see worker.ts) so a saturated data plane cannot delay gossip.
 * `inProcess` runs the engine on the agent's own loop instead (embedding and tests).
 * The worker's metrics are appended to the agent's `/metrics`; a worker that dies is restarted with
 * backoff and given the current snapshot.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CaLayer } from '../ca-client';
import type { CatalogReader, LocalServices } from '../catalog/types';
import type { LogLevel } from '../config';
import type { ConfigEntries } from '../config-entries';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import type { Memberlist } from '../gossip/memberlist';
import { ProxyEngine } from './engine';
import { buildSnapshot } from './snapshot';
import type { FromWorker, ProxySnapshot, ToWorker } from './types';
import type { WorkerData } from './worker';

/** Options of DataPlane. */
export interface DataPlaneOptions {
  nodeName: string;
  datacenter: string;
  trustDomain: string;
  bindHost: string;
  defaultIntentionPolicy: 'allow' | 'deny';
  local: LocalServices;
  catalog: () => CatalogReader | undefined;
  configEntries: ConfigEntries;
  ca: CaLayer;
  lan: Memberlist;
  clock: Clock;
  random: Random;
  logger: Logger;
  logLevel: LogLevel;
  logJson: boolean;
  /** Run the proxy on this thread (tests, embedding); default: a worker thread. */
  inProcess?: boolean;
  /** Coalescing delay between a change and the snapshot: 20 ms. */
  debounceMs?: number;
}

/** The data plane as the agent runs it. */
export class DataPlane {
  private worker: Worker | undefined;
  private engine: ProxyEngine | undefined;
  private readonly log: Logger;
  private readonly unsubscribers: Array<() => void> = [];
  private timer: TimerHandle | undefined;
  private refresh: TimerHandle | undefined;
  /** Restart of a worker that exited, pending its backoff. */
  private respawn: TimerHandle | undefined;
  private last: ProxySnapshot | undefined;
  /** `last` serialized, to tell a changed snapshot from a repeat without serializing `last` again. */
  private lastJson = '';
  private nextId = 1;
  private readonly pendingMetrics = new Map<number, (text: string) => void>();
  private restarts = 0;
  private stopped = false;

  constructor(private readonly o: DataPlaneOptions) {
    this.log = o.logger.child({ component: 'proxy' });
  }

  start(): void {
    // The worker (a second V8 isolate, ~25 MiB) starts with the first listener the node needs, so
    // servers and nodes without mesh services do not pay for it.
    if (this.o.inProcess === true) this.engine = new ProxyEngine({ clock: this.o.clock, random: this.o.random, logger: this.o.logger });
    const schedule = (): void => this.schedule();
    this.unsubscribers.push(
      this.o.local.subscribe(schedule),
      this.o.configEntries.subscribe(schedule),
      this.o.ca.subscribe(schedule),
      this.o.lan.on((e) => {
        if (e.kind !== 'update') schedule();
      }),
    );
    const catalog = this.o.catalog();
    if (catalog !== undefined) this.unsubscribers.push(catalog.subscribe(schedule));
    // A periodic rebuild retries listeners that could not bind and catches anything missed.
    const tick = (): void => {
      this.refresh = this.o.clock.setTimer(5_000, tick);
      this.push(true);
    };
    this.refresh = this.o.clock.setTimer(5_000, tick);
    this.push(true);
  }

  /** The proxy's Prometheus text ('' when it has none yet). */
  metricsText(): Promise<string> {
    if (this.engine !== undefined) return this.engine.metricsText();
    const w = this.worker;
    if (w === undefined) return Promise.resolve('');
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = this.o.clock.setTimer(2_000, () => {
        this.pendingMetrics.delete(id);
        resolve('');
      });
      this.pendingMetrics.set(id, (text) => {
        this.o.clock.clearTimer(timer);
        resolve(text);
      });
      w.postMessage({ t: 'metrics', id } satisfies ToWorker);
    });
  }

  /** The snapshot last sent (tests, debugging). */
  snapshot(): ProxySnapshot | undefined {
    return this.last;
  }

  /** The in-process engine (tests). */
  get inProcessEngine(): ProxyEngine | undefined {
    return this.engine;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
    this.o.clock.clearTimer(this.refresh);
    this.o.clock.clearTimer(this.respawn);
    for (const u of this.unsubscribers) u();
    this.engine?.stop();
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) {
      const exited = new Promise<void>((r) => w.once('exit', () => r()));
      w.postMessage({ t: 'stop' } satisfies ToWorker);
      const timer = this.o.clock.setTimer(2_000, () => void w.terminate());
      await exited;
      this.o.clock.clearTimer(timer);
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = this.o.clock.setTimer(this.o.debounceMs ?? 20, () => {
      this.timer = undefined;
      this.push(false);
    });
  }

  private push(force: boolean): void {
    if (this.stopped) return;
    let s: ProxySnapshot;
    try {
      s = this.build();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not build the proxy configuration');
      return;
    }
    const json = JSON.stringify(s);
    if (!force && json === this.lastJson) return;
    this.last = s;
    this.lastJson = json;
    if (this.engine !== undefined) {
      void this.engine.apply(s).catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'could not apply the proxy configuration'));
      return;
    }
    // Once started, the worker stays (a node whose last sidecar left keeps it for the next one).
    if (this.worker === undefined && this.respawn === undefined && (s.inbound.length > 0 || s.upstreams.length > 0)) this.spawn();
    this.worker?.postMessage({ t: 'snapshot', snapshot: s } satisfies ToWorker);
  }

  private build(): ProxySnapshot {
    const o = this.o;
    const states = new Map(o.lan.members().map((m) => [m.name, m.state as string]));
    return buildSnapshot({
      trustDomain: o.trustDomain, datacenter: o.datacenter, nodeName: o.nodeName, bindHost: o.bindHost,
      defaultIntentionPolicy: o.defaultIntentionPolicy,
      local: o.local, catalog: o.catalog(), memberState: (n) => states.get(n), configEntries: o.configEntries,
      roots: o.ca.trustPems(),
      leaf: (service) => {
        const l = o.ca.leafFor(service);
        return l === undefined ? undefined : { certPem: l.certPem, keyPem: l.keyPem, spiffeId: l.spiffeId };
      },
    });
  }

  private spawn(): void {
    const data: WorkerData = { logLevel: this.o.logLevel, logJson: this.o.logJson };
    const w = new Worker(join(__dirname, 'worker.js'), { workerData: data, stdout: false, stderr: false });
    this.worker = w;
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (err) => this.log.error({ err: err.message }, 'the proxy worker failed'));
    w.once('exit', (code) => {
      if (this.stopped || this.worker !== w) return;
      this.worker = undefined;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts++, 6));
      this.log.error({ code, restartInMs: delay }, 'the proxy worker exited; restarting it');
      this.respawn = this.o.clock.setTimer(delay, () => {
        this.respawn = undefined;
        if (this.stopped) return;
        this.spawn();
        this.push(true);
      });
    });
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'metrics':
        this.pendingMetrics.get(m.id)?.(m.text);
        this.pendingMetrics.delete(m.id);
        break;
      case 'listener':
        if (m.ok) this.restarts = 0;
        break;
      case 'stopped':
        break;
    }
  }
}
