/**
 * The CLI's client of the agent's HTTP API. Every command goes through it, so addressing
 * (`-http-addr`, SHOAL_HTTP_ADDR) and error reporting are the same everywhere: a failure becomes a
 * one-line CliError.
 */

/** Default API address when neither -http-addr nor SHOAL_HTTP_ADDR is set. */
export const DEFAULT_HTTP_ADDR = 'http://127.0.0.1:7500';

/** An error to print as one line before exiting 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** The agent token from the environment (`SHOAL_HTTP_TOKEN`, else Consul's `CONSUL_HTTP_TOKEN`); never a flag, so it stays out of shell history and `ps`. */
export function resolveHttpToken(env: NodeJS.ProcessEnv): string | undefined {
  const t = (env['SHOAL_HTTP_TOKEN'] ?? env['CONSUL_HTTP_TOKEN'] ?? '').trim();
  return t === '' ? undefined : t;
}

/** The base URL from a flag, the environment or the default; `host:port` gets `http://`. */
export function resolveHttpAddr(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = (flag ?? env['SHOAL_HTTP_ADDR'] ?? DEFAULT_HTTP_ADDR).trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    const u = new URL(withScheme);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return u.origin;
  } catch {
    throw new CliError(`invalid HTTP address ${JSON.stringify(raw)}: expected host:port or http://host:port`);
  }
}

/** Talks to one agent. */
export class ApiClient {
  constructor(
    readonly base: string,
    private readonly timeoutMs = 120_000,
    /** Sent as X-Consul-Token: an agent with `acl_agent_token` wants it from callers beyond loopback. */
    private readonly token?: string,
  ) {}

  /** Sends a request; resolves with the parsed JSON reply (undefined when empty). */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(this.token === undefined ? {} : { 'X-Consul-Token': this.token }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CliError(`cannot reach the Shoal agent at ${this.base}: ${networkReason(err)} (is it running? set -http-addr or SHOAL_HTTP_ADDR)`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      parsed = text;
    }
    if (!res.ok) {
      const msg = typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string'
        ? (parsed as { error: string }).error
        : `HTTP ${res.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`;
      throw new CliError(msg);
    }
    return parsed;
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if ((err as Error).name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
