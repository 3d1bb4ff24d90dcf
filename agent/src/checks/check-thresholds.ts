/**
 * Consul's check thresholds (`success_before_passing`, `failures_before_warning`,
 * `failures_before_critical`), as its StatusHandler applies them to probing checks: a result is
 * reported only once enough consecutive results agree, so one slow response does not flap the
 * service out of rotation. Passing and warning count as successes; critical counts as a failure.
 * A failure streak that reached the warning threshold but not the critical one reports warning.
 * While a threshold is not reached, nothing is reported: status and output keep their last values.
 */
import type { CheckResult } from './types';

/** The counters of one check. Pure: no I/O, no time. */
export class StatusThresholds {
  private successes = 0;
  private failures = 0;
  private readonly failuresBeforeWarning: number;

  constructor(
    private readonly successBeforePassing: number,
    failuresBeforeWarning: number,
    private readonly failuresBeforeCritical: number,
  ) {
    // Unset (0) means "no separate warning stage": the same as the critical threshold.
    this.failuresBeforeWarning = failuresBeforeWarning === 0 ? failuresBeforeCritical : failuresBeforeWarning;
  }

  /** Feeds one probe result; returns what to report, or undefined to keep the current status. */
  apply(result: CheckResult): CheckResult | undefined {
    if (result.status !== 'critical') {
      this.successes++;
      this.failures = 0;
      return this.successes >= this.successBeforePassing ? result : undefined;
    }
    this.failures++;
    this.successes = 0;
    if (this.failures >= this.failuresBeforeCritical) return result;
    if (this.failures >= this.failuresBeforeWarning) return { status: 'warning', output: result.output };
    return undefined;
  }
}
