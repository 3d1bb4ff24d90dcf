/**
 * Helpers for the service catalog integration tests (catalog-*.test.ts), on top of harness.ts:
 * reads that keep `X-Consul-Index`, propagation watchers built on blocking queries, a recorder of
 * every state a check passes through, DNS questions (dig, or dns-packet when dig is missing) and a
 * tiny HTTP server for the agents' HTTP checks.
 *
 * Propagation is measured with blocking queries rather than polling: each observer holds one
 * `?index=N&wait=` request, which the agent answers as soon as its catalog changes, so the time
 * recorded is when the agent knew (plus one loopback round trip), and 20 observers cost 20 idle
 * requests instead of hundreds of polls a second on a two-core machine.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { systemClock } from '../../agent/src/core/clock';
import { fetchRetryingReset, type TestAgent } from './harness';

// ---------------------------------------------------------------------------------------------
// Reads with the index.
// ---------------------------------------------------------------------------------------------

/** A read's status, parsed body and `X-Consul-Index` (0 when absent). */
export interface IndexedRead {
  status: number;
  index: number;
  body: unknown;
  headers: Headers;
}

/**
 * GET `path` from `base`; with `index` > 0 it is a blocking query (`?index=&wait=`). `signal`
 * aborts it (the watchers' stop). The reply must be JSON.
 */
export async function getIndexed(
  base: string, path: string, opts: { index?: number; waitMs?: number; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<IndexedRead> {
  let url = `${base}${path}`;
  const waitMs = opts.waitMs ?? 1_000;
  if (opts.index !== undefined && opts.index > 0) {
    url += `${path.includes('?') ? '&' : '?'}index=${opts.index}&wait=${Math.max(1, Math.ceil(waitMs / 1000))}s`;
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? waitMs + 5_000);
  const res = await fetchRetryingReset(url, { signal: opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]) });
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? 0), body, headers: res.headers };
}

/** GET `path` and its parsed JSON body; throws on a non-200 reply. */
export async function getJson<T = unknown>(agent: TestAgent, path: string): Promise<T> {
  const r = await getIndexed(agent.base, path, { timeoutMs: 5_000 });
  if (r.status !== 200) throw new Error(`${agent.name}: GET ${path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body as T;
}

// ---------------------------------------------------------------------------------------------
// Propagation: when each observer first answers `path` with a body satisfying a predicate.
// ---------------------------------------------------------------------------------------------

/** One observer's result: ms after the action when it first satisfied the predicate, or why not. */
export interface Arrival {
  agent: string;
  /** Undefined when the deadline passed first. */
  ms: number | undefined;
  /** The last body seen, rendered short, for failure messages. */
  last: string;
}

/** A set of observers each holding a blocking query on `path`. */
export interface PropagationWatch {
  /** Resolves once every observer has made its first (non-blocking) read. */
  ready: Promise<void>;
  /** Observers that already satisfied the predicate at their first read (the action should come after). */
  early(): string[];
  /** Waits until all have satisfied the predicate or `deadlineMs` after `t0` passed; stops the watchers. */
  settle(t0: number, deadlineMs: number): Promise<Arrival[]>;
}

/**
 * Starts one blocking-query loop per observer on `path`. Call `await w.ready`, take
 * `t0 = systemClock.now()`, act, then `await w.settle(t0, deadline)`. Each loop is bounded by
 * `maxMs` in any case.
 */
export function watchPropagation(
  observers: readonly TestAgent[], path: string, satisfied: (body: unknown) => boolean, opts: { maxMs?: number } = {},
): PropagationWatch {
  const started = systemClock.now();
  const maxMs = opts.maxMs ?? 120_000;
  const stop = new AbortController();
  const firstAt = new Map<string, number>();
  const early: string[] = [];
  const last = new Map<string, string>();
  const readies: Promise<void>[] = [];
  const loops = observers.map((o) => {
    let markReady!: () => void;
    readies.push(new Promise<void>((res) => (markReady = res)));
    return (async () => {
      let index = 0;
      let first = true;
      for (let i = 0; i < 100_000 && !stop.signal.aborted && systemClock.now() - started < maxMs; i++) {
        try {
          const r = await getIndexed(o.base, path, { index, waitMs: 2_000, signal: stop.signal });
          const now = systemClock.now();
          last.set(o.name, `${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`);
          if (r.status === 200 && satisfied(r.body)) {
            if (first) early.push(o.name);
            firstAt.set(o.name, now);
            return;
          }
          index = r.index;
        } catch (err) {
          if (stop.signal.aborted) return;
          last.set(o.name, `error: ${String(err)}`);
          await systemClock.sleep(50);
        } finally {
          if (first) {
            first = false;
            markReady();
          }
        }
      }
    })();
  });
  const all = Promise.all(loops);
  return {
    ready: Promise.all(readies).then(() => undefined),
    early: () => [...early],
    settle: async (t0, deadlineMs) => {
      let done = false;
      void all.then(() => (done = true));
      for (let i = 0; i < 1_000_000 && !done && systemClock.now() < t0 + deadlineMs; i++) {
        await systemClock.sleep(Math.min(20, Math.max(1, t0 + deadlineMs - systemClock.now())));
      }
      stop.abort();
      await all;
      return observers.map((o) => {
        const at = firstAt.get(o.name);
        return { agent: o.name, ms: at === undefined ? undefined : Math.round(at - t0), last: last.get(o.name) ?? '(no reply)' };
      });
    },
  };
}

/** `min/median/max` of the arrivals, and the per-agent list, for a diagnostic line. */
export function renderArrivals(arrivals: readonly Arrival[]): string {
  const ms = arrivals.map((a) => a.ms).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const stats = ms.length === 0 ? 'none arrived' : `min ${ms[0]} / median ${ms[Math.floor(ms.length / 2)]} / max ${ms[ms.length - 1]} ms`;
  return `${stats}; ${arrivals.map((a) => `${a.agent}=${a.ms ?? 'missed'}`).join(' ')}`;
}

/** The arrivals that missed the deadline, with what each observer said last. */
export function missed(arrivals: readonly Arrival[]): string[] {
  return arrivals.filter((a) => a.ms === undefined).map((a) => `${a.agent} last said ${a.last}`);
}

// ---------------------------------------------------------------------------------------------
// Recording every state a value passes through.
// ---------------------------------------------------------------------------------------------

/** One distinct value seen, and when (ms after the recorder started). */
export interface Observation {
  atMs: number;
  value: string;
}

/**
 * Follows `path` on `agent` with back-to-back blocking queries (each change of the agent's index
 * answers at once) and records every distinct value `extract` gives, so a flap (passing ->
 * critical -> passing) is seen even when it lasts only one check interval. Bounded by `maxMs`.
 */
export function recordValues(
  agent: TestAgent, path: string, extract: (body: unknown) => string, opts: { maxMs?: number } = {},
): { stop: () => Promise<{ observations: Observation[]; reads: number; errors: string[] }> } {
  const t0 = systemClock.now();
  const stop = new AbortController();
  const observations: Observation[] = [];
  const errors: string[] = [];
  let reads = 0;
  const loop = (async () => {
    let index = 0;
    for (let i = 0; i < 100_000 && !stop.signal.aborted && systemClock.now() - t0 < (opts.maxMs ?? 120_000); i++) {
      try {
        const r = await getIndexed(agent.base, path, { index, waitMs: 2_000, signal: stop.signal });
        reads++;
        const value = r.status === 200 ? extract(r.body) : `HTTP ${r.status}`;
        if (observations.length === 0 || observations[observations.length - 1]!.value !== value) {
          observations.push({ atMs: Math.round(systemClock.now() - t0), value });
        }
        index = r.index;
      } catch (err) {
        if (stop.signal.aborted) return;
        errors.push(String(err));
        await systemClock.sleep(50);
      }
    }
  })();
  return {
    stop: async () => {
      stop.abort();
      await loop;
      return { observations, reads, errors };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DNS.
// ---------------------------------------------------------------------------------------------

/** One SRV answer and the address the additional section gives its target. */
export interface SrvTarget {
  port: number;
  target: string;
  address: string | undefined;
}

/** What a question got: rcode name, SRV answers (with resolved targets) and A answers. */
export interface DnsResult {
  rcode: string;
  srv: SrvTarget[];
  a: string[];
  /** Which client asked: dig, or dns-packet over UDP. */
  client: 'dig' | 'dns-packet';
}

let digAvailable: boolean | undefined;

async function hasDig(): Promise<boolean> {
  digAvailable ??= await new Promise<boolean>((res) => {
    execFile('dig', ['-v'], { timeout: 5_000 }, (err) => res(err === null));
  });
  return digAvailable;
}

/** Asks `server:port` for `name` of `type` (A or SRV) with dig when installed, else dns-packet. */
export async function dnsQuery(server: string, port: number, name: string, type: 'A' | 'SRV'): Promise<DnsResult> {
  return (await hasDig()) ? digQuery(server, port, name, type) : packetQuery(server, port, name, type);
}

/** `dig @server -p port name type`, answer and additional sections parsed. */
async function digQuery(server: string, port: number, name: string, type: 'A' | 'SRV'): Promise<DnsResult> {
  const out = await new Promise<string>((res, rej) => {
    execFile('dig', [`@${server}`, '-p', String(port), name, type, '+tries=1', '+time=3'], { timeout: 10_000 },
      (err, stdout, stderr) => (err ? rej(new Error(`dig failed: ${err.message} ${stderr}`)) : res(stdout)));
  });
  const rcode = /status: ([A-Z]+)/.exec(out)?.[1] ?? 'unknown';
  const records = out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';')).map((l) => l.split(/\s+/));
  const addrOf = new Map(records.filter((r) => r[3] === 'A').map((r) => [r[0]!.replace(/\.$/, '').toLowerCase(), r[4]!]));
  const srv = records.filter((r) => r[3] === 'SRV').map((r) => {
    const target = r[7]!.replace(/\.$/, '').toLowerCase();
    return { port: Number(r[6]), target, address: addrOf.get(target) };
  });
  const a = records.filter((r) => r[3] === 'A' && r[0]!.replace(/\.$/, '').toLowerCase() === name.toLowerCase()).map((r) => r[4]!);
  return { rcode, srv, a, client: 'dig' };
}

/** The same question over UDP with dns-packet (for machines without dig). */
async function packetQuery(server: string, port: number, name: string, type: 'A' | 'SRV'): Promise<DnsResult> {
  const sock = createSocket('udp4');
  const id = 1 + (process.pid % 60_000);
  try {
    const reply = await new Promise<Buffer>((res, rej) => {
      const timer = systemClock.setTimer(3_000, () => rej(new Error(`no DNS answer from ${server}:${port} in 3 s`)));
      sock.on('error', (e) => {
        systemClock.clearTimer(timer);
        rej(e);
      });
      sock.on('message', (m) => {
        systemClock.clearTimer(timer);
        res(m);
      });
      sock.send(dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] }), port, server);
    });
    const p = dnsPacket.decode(reply);
    const addrOf = new Map(p.additionals.filter((r) => r.type === 'A').map((r) => [r.name.toLowerCase(), String(r.data)]));
    const srv = p.answers.filter((r) => r.type === 'SRV').map((r) => {
      const d = r.data as dnsPacket.SrvData;
      return { port: d.port, target: d.target.toLowerCase(), address: addrOf.get(d.target.toLowerCase()) };
    });
    const a = p.answers.filter((r) => r.type === 'A').map((r) => String(r.data));
    return { rcode: p.rcode, srv, a, client: 'dns-packet' };
  } finally {
    sock.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP server for HTTP checks.
// ---------------------------------------------------------------------------------------------

/** An HTTP endpoint that answers `status` to every request and counts them. */
export interface CheckTarget {
  host: string;
  port: number;
  /** Requests served so far. */
  hits(): number;
  /** The status every request gets from now on (200 at start). */
  setStatus(status: number): void;
  close(): Promise<void>;
}

/** Starts the server on `host`, port chosen by the kernel. */
export async function startCheckTarget(host: string): Promise<CheckTarget> {
  let hits = 0;
  let status = 200;
  const server: Server = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(status, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end(`hit ${hits}\n`);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, host, () => res());
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    setStatus: (s) => (status = s),
    close: () => new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Config entries.
// ---------------------------------------------------------------------------------------------

/** An entry without this agent's own indexes (CreateIndex/ModifyIndex are each agent's sequence). */
export function withoutIndexes(entry: unknown): unknown {
  if (typeof entry !== 'object' || entry === null) return entry;
  const { CreateIndex: _c, ModifyIndex: _m, ...rest } = entry as Record<string, unknown>;
  return rest;
}

/** A stable rendering of a list of entries, for comparing agents: sorted, indexes dropped. */
export function canonicalEntries(list: unknown): string {
  if (!Array.isArray(list)) return `not a list: ${JSON.stringify(list)}`;
  return JSON.stringify(list.map(withoutIndexes).map(sortKeys).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}
