/**
 * Test-side pieces for the data-plane tests: small HTTP applications that answer with their name, and a
 * bounded load loop that sends HTTP requests through an upstream listener (a new TCP connection per
 * request, so every request is a new proxied connection), recording every failure with its time.
 */
import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { systemClock } from '../../agent/src/core/clock';

/** An HTTP application on `host:port` that answers `name` to every request. */
export class NamedApp {
  requests = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(readonly name: string, readonly host: string, readonly port: number) {
    this.server = createServer((req, res) => {
      this.requests++;
      req.resume();
      res.end(name);
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => resolve());
    });
  }

  /** Stops listening and cuts open connections. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** One failed request. */
export interface LoadFailure {
  atMs: number;
  error: string;
}

/** What a load run saw. */
export interface LoadResult {
  ok: number;
  failures: LoadFailure[];
  /** Answers by body (the application's name). */
  byBody: Map<string, number>;
  /** Answers by body after a time mark (see `mark`). */
  byBodyAfterMark: Map<string, number>;
}

/** `concurrency` loops of one request per new connection to `host:port`, until stopped or `maxMs`. */
export class Load {
  private readonly result: LoadResult = { ok: 0, failures: [], byBody: new Map(), byBodyAfterMark: new Map() };
  private readonly t0 = systemClock.now();
  private markMs = Number.POSITIVE_INFINITY;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly host: string, private readonly port: number, private readonly concurrency: number, private readonly maxMs = 180_000) {}

  start(): this {
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop());
    return this;
  }

  /** Milliseconds since start. */
  now(): number {
    return systemClock.now() - this.t0;
  }

  /** Starts counting answers by body separately from now on. */
  mark(): void {
    this.markMs = this.now();
  }

  get ok(): number {
    return this.result.ok;
  }

  get failures(): readonly LoadFailure[] {
    return this.result.failures;
  }

  async stop(): Promise<LoadResult> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.result;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.now() < this.maxMs) {
      try {
        const body = await this.once();
        this.result.ok++;
        this.result.byBody.set(body, (this.result.byBody.get(body) ?? 0) + 1);
        if (this.now() >= this.markMs) this.result.byBodyAfterMark.set(body, (this.result.byBodyAfterMark.get(body) ?? 0) + 1);
      } catch (err) {
        this.result.failures.push({ atMs: this.now(), error: (err as Error).message });
        await systemClock.sleep(5);
      }
    }
  }

  private once(): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
      req.on('error', reject);
      req.end();
    });
  }
}
