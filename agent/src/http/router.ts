/**
 * A route table with path parameters: `/v1/agent/join/:address` binds one segment, a final
 * `*key` binds the rest of the path (for KV-style keys). Matching runs on the raw (still
 * percent-encoded) path so an encoded `/` inside a parameter cannot split it; parameters are decoded
 * after matching. Later endpoints (catalog, health, config, connect) are added as more rows.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest } from './errors';

/** HTTP methods the API serves. */
export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** What a handler sees. */
export interface ApiRequest {
  readonly method: Method;
  /** The raw path, without the query. */
  readonly path: string;
  /** Decoded path parameters. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The caller's IP address as the socket reports it (undefined when unknown: treated as remote). */
  readonly remoteAddress?: string;
  /** Aborted when the client disconnects or the server shuts down (for blocking queries). */
  readonly signal: AbortSignal;
  /** The request body parsed as JSON, undefined when empty; rejects with 400 or 413. */
  json(): Promise<unknown>;
  /** True for `?name`, `?name=1`, `?name=true` (Consul's boolean query parameters). */
  flag(name: string): boolean;
}

/** What a handler returns. */
export interface ApiReply {
  /** Default 200. */
  status?: number;
  /** Sent as JSON; undefined sends an empty body. */
  body?: unknown;
  /** A non-JSON body (Prometheus text). */
  raw?: { contentType: string; data: string | Buffer };
  headers?: Readonly<Record<string, string>>;
  /** Sent as `X-Consul-Index` (blocking queries). */
  index?: number;
  /** Runs once the reply has been written (e.g. shut down after `PUT /v1/agent/leave`). */
  after?: () => void;
}

/** A handler of one route. */
export type Handler = (req: ApiRequest) => Promise<ApiReply> | ApiReply;

/** One row of the route table. */
export interface Route {
  method: Method;
  /** `/v1/agent/join/:address`, `/v1/kv/*key`. */
  path: string;
  handler: Handler;
}

interface CompiledRoute {
  route: Route;
  segments: string[];
  /** Name of the final `*rest` parameter, if any. */
  rest: string | undefined;
}

/** Result of matching a request. */
export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method'; allowed: Method[] }
  | { kind: 'none' };

/** The route table. */
export class Router {
  private readonly routes: CompiledRoute[] = [];

  constructor(routes: readonly Route[] = []) {
    for (const r of routes) this.add(r);
  }

  /** Adds a route; throws on a duplicate method and path (a programming error). */
  add(route: Route): this {
    if (this.routes.some((r) => r.route.method === route.method && r.route.path === route.path)) {
      throw new Error(`duplicate route ${route.method} ${route.path}`);
    }
    const segments = route.path.split('/').slice(1);
    const last = segments[segments.length - 1];
    const rest = last?.startsWith('*') === true ? last.slice(1) : undefined;
    if (rest !== undefined) segments.pop();
    this.routes.push({ route, segments, rest });
    return this;
  }

  /** Finds the route for a method and raw path; a path that matches under another method is a 405. */
  match(method: string, rawPath: string): RouteMatch {
    const parts = rawPath.split('/').slice(1);
    const allowed: Method[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r, parts);
      if (params === undefined) continue;
      if (r.route.method === method) return { kind: 'found', route: r.route, params };
      allowed.push(r.route.method);
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }

  /** Every route, for listings and tests. */
  list(): Route[] {
    return this.routes.map((r) => r.route);
  }
}

function matchSegments(r: CompiledRoute, parts: string[]): Record<string, string> | undefined {
  if (r.rest === undefined ? parts.length !== r.segments.length : parts.length < r.segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < r.segments.length; i++) {
    const seg = r.segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      if (part === '') return undefined;
      params[seg.slice(1)] = decode(part);
    } else if (seg !== part) {
      return undefined;
    }
  }
  if (r.rest !== undefined) params[r.rest] = decode(parts.slice(r.segments.length).join('/'));
  return params;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badRequest(`malformed percent-encoding in path segment ${JSON.stringify(part)}`);
  }
}
