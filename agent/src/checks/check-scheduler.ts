/**
 * Runs one probing check (http, tcp, grpc, script) on the injected clock: one timer per check, the
 * first run at a random point within the first interval (so a reload of a hundred checks does not
 * fire a hundred probes at once, as Consul's stagger), then one run every interval after the previous
 * one ended (never two runs of a check at once). Each run is aborted at the check's timeout.
 */
import type { Clock, TimerHandle } from '../core/clock';
import type { Random } from '../core/random';
import { formatDurationMs } from '../config';
import { truncateOutput } from './check-output';
import { StatusThresholds } from './check-thresholds';
import type { CheckDefinition, CheckResult, CheckRunner, Probe, ReportFn } from './types';

/** Shortest interval between runs (Consul's MinInterval): 1 s. Shorter intervals are raised to it. */
export const MIN_INTERVAL_MS = 1000;

/** The abort reason of a run that overran its timeout; probes put its message in their output. */
export class CheckTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${formatDurationMs(timeoutMs)}`);
    this.name = 'CheckTimeoutError';
  }
}

/** Schedules a probe, applies the thresholds and reports. */
export class IntervalCheck implements CheckRunner {
  private timer: TimerHandle | undefined;
  private inflight: { controller: AbortController; done: Promise<void> } | undefined;
  private running = false;
  private readonly thresholds: StatusThresholds;
  private readonly intervalMs: number;

  constructor(
    private readonly def: CheckDefinition,
    private readonly probe: Probe,
    private readonly deps: { clock: Clock; random: Random },
    private readonly report: ReportFn,
  ) {
    this.thresholds = new StatusThresholds(def.successBeforePassing, def.failuresBeforeWarning, def.failuresBeforeCritical);
    this.intervalMs = Math.max(MIN_INTERVAL_MS, def.intervalMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(this.deps.random.float() * this.intervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
    const run = this.inflight;
    if (run !== undefined) {
      run.controller.abort(new Error('check stopped'));
      await run.done;
    }
  }

  private schedule(delayMs: number): void {
    this.timer = this.deps.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.runOnce();
    });
  }

  private runOnce(): void {
    const { clock } = this.deps;
    const controller = new AbortController();
    const timeout = clock.setTimer(this.def.timeoutMs, () => controller.abort(new CheckTimeoutError(this.def.timeoutMs)));
    const done = this.probe(controller.signal)
      .catch((err: unknown): CheckResult => ({ status: 'critical', output: err instanceof Error ? err.message : String(err) }))
      .then((result) => {
        clock.clearTimer(timeout);
        this.inflight = undefined;
        if (!this.running) return;
        const reported = this.thresholds.apply({ status: result.status, output: truncateOutput(result.output) });
        if (reported !== undefined) this.report(reported);
        this.schedule(this.intervalMs);
      });
    this.inflight = { controller, done };
  }
}

/** The message of an abort reason, for probe output. */
export function abortMessage(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : 'aborted';
}
