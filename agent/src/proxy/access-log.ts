/**
 * Where access-log records go. In the proxy worker, `BatchedAccessLog` writes them as the agent's log
 * lines (same JSON shape as pino's: level, time, component, fields, msg "access", or the text format
 * with `log_json = false`) without pino's per-line redaction pass (the fields are identities,
 * addresses and counts, never secrets) and in batches: lines gathered during one turn of the event
 * loop go out in one synchronous write of whole lines, at most 4 KiB each, so they never interleave
 * with the agent's own log lines on a pipe (writes up to PIPE_BUF are atomic).
 */
import { writeSync } from 'node:fs';
import { formatLine } from '../agent/logging';
import type { Logger } from '../core/logger';

/** Receives one record per finished connection. */
export interface AccessLogSink {
  write(record: Record<string, unknown>): void;
}

/** Writes through a logger (in-process engines, tests). */
export function loggerSink(logger: Logger): AccessLogSink {
  return { write: (r) => logger.info(r, 'access') };
}

/** Most bytes per write: POSIX PIPE_BUF on Linux, so a write to a pipe is never split. */
const MAX_WRITE = 4096;

/** Batched, synchronous writes to a file descriptor (stdout by default). */
export class BatchedAccessLog implements AccessLogSink {
  private lines: string[] = [];
  private bytes = 0;
  private scheduled = false;
  /** Told how many lines a failed write lost (stdout full or gone): counted, never retried. */
  onDropped: (lines: number) => void = () => {};

  constructor(
    private readonly opts: { json: boolean; now: () => number; fd?: number; write?: (chunk: string) => void },
  ) {}

  write(record: Record<string, unknown>): void {
    const time = new Date(this.opts.now()).toISOString();
    const json = JSON.stringify({ level: 'info', time, component: 'proxy', ...record, msg: 'access' });
    const line = `${this.opts.json ? json : formatLine(json)}\n`;
    if (this.bytes + line.length > MAX_WRITE) this.flush();
    this.lines.push(line);
    this.bytes += line.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is buffered now. */
  flush(): void {
    this.scheduled = false;
    if (this.lines.length === 0) return;
    const count = this.lines.length;
    const chunk = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    try {
      if (this.opts.write !== undefined) this.opts.write(chunk);
      else writeSync(this.opts.fd ?? 1, chunk);
    } catch {
      // stdout full (EAGAIN on a non-blocking pipe or socket) or gone (the agent is exiting): the
      // lines are dropped and counted; traffic is never held up for its log.
      this.onDropped(count);
    }
  }
}
