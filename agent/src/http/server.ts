/**
 * The HTTP API server: plain node:http and the route table in router.ts. No framework: the API is a
 * few dozen JSON routes, start-up time matters for the CLI and tests, and Consul's conventions
 * (X-Consul-Index, blocking queries that hold a request open) are simpler to keep exact by hand.
 *
 * Every reply is JSON with `Content-Type: application/json` (except /metrics); bodies are capped;
 * malformed JSON is a 400 that says what is wrong; errors are `{ "error", "code" }`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../core/clock';
import { noopLogger, type Logger } from '../core/logger';
import { findJsonError, lineCol } from '../config/json-position';
import { describeError, HttpError, HttpErrorCode } from './errors';
import { Router, type ApiReply, type ApiRequest, type Method, type Route } from './router';

/** Request bodies larger than this are refused with 413: 1 MiB (config entries and registrations are KBs). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Observes finished requests (bound to the agent's metrics). */
export interface RequestObserver {
  request(method: string, route: string, status: number, seconds: number): void;
}

/** Options of HttpApiServer. */
export interface HttpApiServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  routes: readonly Route[];
  clock: Clock;
  logger?: Logger;
  observer?: RequestObserver;
  maxBodyBytes?: number;
}

/** The agent's HTTP API listener. */
export class HttpApiServer {
  private readonly router: Router;
  private readonly server: Server;
  private readonly log: Logger;
  private readonly maxBody: number;
  /** Aborts held (blocking) requests when the server closes. */
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;

  constructor(private readonly opts: HttpApiServerOptions) {
    this.router = new Router(opts.routes);
    this.log = opts.logger ?? noopLogger;
    this.maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.server = createServer((req, res) => void this.handle(req, res));
    // Slow-loris bounds: headers within 10 s, the whole request within 30 s. Replies (blocking
    // queries) may take longer; that is governed by their `wait`.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    // Idle keep-alive connections are closed after 120 s, later than clients close theirs (Go's
    // default transport, which Consul's tools use, after 90 s; Node's fetch per the Keep-Alive
    // header): with Node's default of 5 s a client could send a registration on a connection the
    // agent was closing, and a PUT lost that way is not retried.
    this.server.keepAliveTimeout = 120_000;
  }

  /** Listens; rejects with a message naming the address when the port is taken. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const addr = `${this.opts.host}:${this.opts.port}`;
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : err.message;
        reject(Object.assign(new Error(`cannot listen for the HTTP API on ${addr}: ${why}`), { code: 'SHOAL_ERR_HTTP_BIND' }));
      };
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.log.error({ err: String(err) }, 'HTTP server error'));
        resolve();
      });
    });
  }

  /** The bound address (the real port when started with 0). */
  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo | null;
    return { host: this.opts.host, port: a?.port ?? this.opts.port };
  }

  /** Stops accepting, aborts held requests, lets in-flight replies finish, closes idle connections. */
  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      this.closing.abort();
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // Replies still being written get a moment, then their connections are cut.
      this.opts.clock.setTimer(2000, () => this.server.closeAllConnections());
    });
    return this.closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.opts.clock.now();
    let routeName = 'unmatched';
    let reply: ApiReply;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method ?? 'GET';
      const m = this.router.match(method, url.pathname);
      if (m.kind === 'none') throw new HttpError(404, `no such endpoint: ${method} ${url.pathname}`, HttpErrorCode.notFound);
      if (m.kind === 'method') {
        throw new HttpError(405, `method ${method} not allowed on ${url.pathname}; allowed: ${m.allowed.join(', ')}`,
          HttpErrorCode.methodNotAllowed, { Allow: m.allowed.join(', ') });
      }
      routeName = m.route.path;
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > this.maxBody) {
        await drain(req, this.maxBody * DRAIN_FACTOR);
        throw tooLarge(this.maxBody);
      }
      reply = await m.route.handler(this.request(req, res, method as Method, url, m.params));
    } catch (err) {
      const e = describeError(err);
      if (e.status >= 500) this.log.error({ method: req.method, path: safePath(req.url), err: e.message }, 'HTTP request failed');
      // Refused input lists every problem, so a client (the CLI) can show each on its own line.
      const body = e.problems === undefined ? { error: e.message, code: e.code } : { error: e.message, code: e.code, problems: e.problems };
      reply = { status: e.status, body, headers: e.headers };
    }
    this.send(req, res, reply);
    const status = reply.status ?? 200;
    const seconds = (this.opts.clock.now() - started) / 1000;
    this.opts.observer?.request(req.method ?? '', routeName, status, seconds);
    if (this.log.isLevelEnabled?.('debug') !== false) {
      this.log.debug({ method: req.method, path: safePath(req.url), status, ms: Math.round(seconds * 1000) }, 'HTTP request');
    }
  }

  private request(req: IncomingMessage, res: ServerResponse, method: Method, url: URL, params: Record<string, string>): ApiRequest {
    const signal = AbortSignal.any([this.closing.signal, abortOnClientGone(res)]);
    let body: Promise<unknown> | undefined;
    return {
      method,
      path: url.pathname,
      params,
      query: url.searchParams,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
      signal,
      json: () => (body ??= readJson(req, this.maxBody)),
      flag: (name) => {
        const v = url.searchParams.get(name);
        return v !== null && v !== '0' && v.toLowerCase() !== 'false';
      },
    };
  }

  private send(req: IncomingMessage, res: ServerResponse, reply: ApiReply): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { ...reply.headers };
    let data: string | Buffer;
    if (reply.raw !== undefined) {
      headers['Content-Type'] = reply.raw.contentType;
      data = reply.raw.data;
    } else {
      headers['Content-Type'] = 'application/json';
      const pretty = new URL(req.url ?? '/', 'http://localhost').searchParams.has('pretty');
      data = reply.body === undefined ? '' : JSON.stringify(reply.body, null, pretty ? 4 : undefined);
    }
    if (reply.index !== undefined) headers['X-Consul-Index'] = String(reply.index);
    headers['Content-Length'] = Buffer.byteLength(data);
    // A request whose body we refused was not read: close rather than try to skip it on keep-alive.
    if ((reply.status ?? 200) === 413) headers['Connection'] = 'close';
    res.writeHead(reply.status ?? 200, headers);
    if (reply.after !== undefined) res.once('finish', reply.after);
    res.end(data);
  }
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, `request body exceeds ${max} bytes`, HttpErrorCode.bodyTooLarge);
}

/**
 * An oversized body is still read (and discarded) up to this multiple of the cap before the 413 is
 * sent: replying while the client is still writing makes the kernel reset the connection, and the
 * client then sees a reset instead of the 413. Beyond it the connection is simply destroyed.
 */
const DRAIN_FACTOR = 8;

/** Reads and discards a body, destroying the connection past `limit` bytes. */
function drain(req: IncomingMessage, limit: number): Promise<void> {
  return new Promise((resolve) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        resolve();
      }
    });
    req.once('end', () => resolve());
    req.once('close', () => resolve());
    req.once('error', () => resolve());
  });
}

/** Reads and parses a JSON body of at most `max` bytes; empty means undefined. */
function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max * DRAIN_FACTOR) {
        req.destroy();
        reject(tooLarge(max));
      } else if (size <= max) {
        chunks.push(chunk);
      }
    });
    req.once('error', (err) => reject(new HttpError(400, `could not read the request body: ${err.message}`)));
    req.once('end', () => {
      if (size > max) return reject(tooLarge(max));
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        // Our own position and reason: V8's message quotes the input, which may carry a key.
        const at = findJsonError(text) ?? { offset: text.length, reason: 'invalid JSON' };
        const [line, col] = lineCol(text, at.offset).split(',');
        reject(new HttpError(400, `request body is not valid JSON: line ${line}, column ${col}: ${at.reason}`, HttpErrorCode.badJson));
      }
    });
  });
}

/** An AbortSignal that fires when the client goes away before the reply is sent. */
function abortOnClientGone(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** The path without the query string (queries may carry tokens). */
function safePath(url: string | undefined): string {
  return (url ?? '').split('?')[0]!;
}
