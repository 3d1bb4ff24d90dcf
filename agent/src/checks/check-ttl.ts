/**
 * TTL checks: the application reports its own status (`/v1/agent/check/pass|warn|fail/:id`); when
 * no report arrives within the TTL the check turns critical. Thresholds do not apply (Consul applies
 * them to probing checks only).
 */
import type { HealthStatus } from '../catalog/types';
import type { Clock, TimerHandle } from '../core/clock';
import { truncateOutput } from './check-output';
import type { CheckRunner, ReportFn } from './types';

/** A TTL check's timer. */
export class TtlCheck implements CheckRunner {
  private timer: TimerHandle | undefined;
  private running = false;
  private lastOutput = '';

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly report: ReportFn,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Records a status report from the application and restarts the TTL. */
  update(status: HealthStatus, output: string): void {
    this.lastOutput = truncateOutput(output);
    this.report({ status, output: this.lastOutput });
    if (this.running) this.arm();
  }

  private arm(): void {
    this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(this.ttlMs, () => {
      this.timer = undefined;
      const last = this.lastOutput === '' ? '' : ` (last output before timeout follows): ${this.lastOutput}`;
      this.report({ status: 'critical', output: truncateOutput(`TTL expired${last}`) });
    });
  }
}
