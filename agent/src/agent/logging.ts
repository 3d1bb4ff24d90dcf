/**
 * The agent's logger: pino, JSON lines on stdout by default, one line per event. Paths that could
 * carry key material or tokens are redacted, as a second line of defence behind never logging them.
 * With `log_json = false` a line format close to Consul's is written instead:
 * `2026-01-01T00:00:00.000Z [INFO]  agent: gossip started: pool=lan addr=127.0.0.1:7301`.
 */
import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config';

/** Fields redacted wherever they appear at the top level or one level down. */
const REDACT_PATHS = [
  'encrypt', 'key', 'keys', 'primary', 'token', 'password', 'secret',
  '*.encrypt', '*.key', '*.keys', '*.primary', '*.token', '*.password', '*.secret',
  'headers["x-consul-token"]', 'headers.authorization', '*.headers["x-consul-token"]', '*.headers.authorization',
];

/** Options of createLogger. */
export interface LoggerOptions {
  level: LogLevel | 'silent';
  json: boolean;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

/** Creates the agent's root logger. */
export function createLogger(opts: LoggerOptions): PinoLogger {
  const destination = opts.destination ?? pino.destination({ fd: 1, sync: true });
  return pino(
    {
      level: opts.level,
      // No pid/hostname on every line; child loggers add `component` (gossip, http).
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.json ? destination : new TextLines(destination),
  );
}

/** Re-formats pino's JSON lines as human-readable lines. */
class TextLines extends Writable {
  constructor(private readonly out: DestinationStream) {
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const line of String(chunk).split('\n')) {
      if (line.trim() !== '') this.out.write(`${formatLine(line)}\n`);
    }
    done();
  }
}

/** Formats one JSON log line as `time [LEVEL] component: msg: k=v ...`. */
export function formatLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, component, pid: _pid, hostname: _host, ...fields } = rec;
  const lvl = `[${String(level ?? 'info').toUpperCase()}]`.padEnd(7);
  const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${String(time)} ${lvl} ${String(component ?? 'agent')}: ${String(msg ?? '')}${kv.length > 0 ? `: ${kv.join(' ')}` : ''}`;
}
