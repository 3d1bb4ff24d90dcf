/**
 * The demo mesh of `npm run dev` (`shoal dev --demo`): two small HTTP services in the agent's process,
 * registered with sidecars through the agent's own HTTP API, so the demo takes the same path as any
 * registration. `web` (127.0.0.1:8080) calls `api` (127.0.0.1:9090) through its upstream listener
 * 127.0.0.1:9191, which carries the call over mTLS to api's inbound listener. Everything lives in the
 * dev agent's temporary data directory and this process: Ctrl-C leaves nothing behind.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Where the demo listens. */
export interface DemoPorts {
  web: number;
  api: number;
  upstream: number;
}

export const DEMO_PORTS: DemoPorts = { web: 8080, api: 9090, upstream: 9191 };

/** The running demo. */
export interface Demo {
  /** What to print: how to use it. */
  banner: string;
  stop(): Promise<void>;
}

/** What the demo needs of the agent: its HTTP API address. */
export interface DemoAgent {
  httpAddress(): { host: string; port: number };
}

/** Starts the two services and registers them; rejects with a clear error if a port is taken. */
export async function startDemo(agent: DemoAgent, ports: DemoPorts = DEMO_PORTS): Promise<Demo> {
  const sockets = new Set<Socket>();
  let calls = 0;
  const api = createServer((req, res) => {
    calls++;
    req.resume();
    json(res, 200, { service: 'api', message: 'hello from api', calls });
  });
  const web = createServer((req, res) => void handleWeb(req, res, ports.upstream));
  const servers = [api, web];
  for (const s of servers) {
    s.on('connection', (c: Socket) => {
      sockets.add(c);
      c.once('close', () => sockets.delete(c));
    });
  }
  const stop = async (): Promise<void> => {
    for (const c of sockets) c.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  };
  try {
    await listen(api, ports.api, 'api');
    await listen(web, ports.web, 'web');
    const http = agent.httpAddress();
    await register(http, { Name: 'api', Port: ports.api, Connect: { SidecarService: {} } });
    await register(http, {
      Name: 'web', Port: ports.web,
      Connect: { SidecarService: { Proxy: { Upstreams: [{ DestinationName: 'api', LocalBindPort: ports.upstream }] } } },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { banner: banner(agent.httpAddress(), ports), stop };
}

async function handleWeb(req: IncomingMessage, res: ServerResponse, upstream: number): Promise<void> {
  req.resume();
  try {
    const body = await get(upstream);
    json(res, 200, { service: 'web', message: 'web called api through the mesh', api: JSON.parse(body) as unknown });
  } catch (err) {
    json(res, 502, {
      service: 'web', error: `calling api through 127.0.0.1:${upstream} failed: ${(err as Error).message}`,
      hint: 'a deny intention, or api has no healthy instance: see the agent log (msg "access")',
    });
  }
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`api answered ${res.statusCode}`))));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (e) => reject(e.message === 'socket hang up' ? new Error('the connection was closed before any answer (denied?)') : e));
    req.end();
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function listen(s: Server, port: number, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`demo service ${name} cannot listen on 127.0.0.1:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`)));
    s.listen(port, '127.0.0.1', () => resolve());
  });
}

function register(http: { host: string; port: number }, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request({ host: http.host, port: http.port, method: 'PUT', path: '/v1/agent/service/register', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`registering the demo services failed: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function banner(http: { host: string; port: number }, p: DemoPorts): string {
  const api = `http://${http.host}:${http.port}`;
  const shoal = 'node dist/agent/src/cli/main.js';
  return [
    '',
    'Shoal dev mesh is running: one agent (server + client, ephemeral CA, intentions allow by default)',
    `and two demo services: web (127.0.0.1:${p.web}) calls api (127.0.0.1:${p.api}) through its upstream`,
    `127.0.0.1:${p.upstream} -> mTLS tunnel -> api's inbound listener.`,
    '',
    '  Call web (which calls api through the mesh):',
    `    curl -s http://127.0.0.1:${p.web}/`,
    '  Call api through web\'s upstream listener directly:',
    `    curl -s http://127.0.0.1:${p.upstream}/`,
    '  Proxy metrics:',
    `    curl -s ${api}/metrics | grep '^shoal_proxy'`,
    '  Deny web -> api (takes effect for new connections at once; web then answers 502):',
    `    echo '{"Kind":"service-intentions","Name":"api","Sources":[{"Name":"web","Action":"deny"}]}' | ${shoal} config write -`,
    `    curl -s http://127.0.0.1:${p.web}/`,
    '  Allow it again:',
    `    ${shoal} config delete -kind service-intentions -name api`,
    '',
    'Ctrl-C stops the agent and the demo and removes the temporary data directory.',
    '',
  ].join('\n');
}
