/** An HttpApiServer on 127.0.0.1:0 with the given stores, and a fetch helper, for route tests. */
import { systemClock } from '../../src/core/clock';
import { apiRoutes, HttpApiServer, type ApiDependencies } from '../../src/http';
import { FakeAgent } from './fake-agent';

/** A reply as tests look at it. */
export interface Reply {
  status: number;
  json: unknown;
  text: string;
  headers: Headers;
}

/** A started server and a way to call it. */
export interface Harness {
  server: HttpApiServer;
  base: string;
  call(method: string, path: string, body?: string): Promise<Reply>;
}

/** Starts a server over `deps` (and a FakeAgent); close it with `server.close()`. */
export async function startApi(deps: ApiDependencies, api = new FakeAgent()): Promise<Harness> {
  const server = new HttpApiServer({ host: '127.0.0.1', port: 0, routes: apiRoutes(api, deps), clock: systemClock });
  await server.start();
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    server,
    base,
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, { method, body });
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    },
  };
}
